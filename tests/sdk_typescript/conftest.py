"""Fixtures of the TypeScript SDK tests: the built package (the simulator is the root
conftest's)."""

from __future__ import annotations

import pytest

from tests.sdk_typescript.node import build_typescript_sdk


@pytest.fixture(scope="session")
def typescript_sdk():
    """``sdk/typescript`` installed (``npm ci`` when needed) and built, once per test run."""
    return build_typescript_sdk()
