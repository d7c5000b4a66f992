"""Fixtures of the TypeScript SDK tests: the built package and the provider simulator."""

from __future__ import annotations

import pytest

from sessions_app.simulator import running_simulator
from tests.sdk_typescript.node import build_typescript_sdk


@pytest.fixture(scope="session")
def typescript_sdk():
    """``sdk/typescript`` installed (``npm ci`` when needed) and built, once per test run."""
    return build_typescript_sdk()


@pytest.fixture(scope="session")
def _simulator_thread():
    with running_simulator() as handle:
        yield handle


@pytest.fixture
def simulator(_simulator_thread):
    _simulator_thread.reset()
    return _simulator_thread
