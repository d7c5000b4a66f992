"""Fixtures of the SDK tests: the provider simulator, reset for every test."""

from __future__ import annotations

import pytest

from sessions_app.simulator import running_simulator


@pytest.fixture(scope="session")
def _simulator_thread():
    with running_simulator() as handle:
        yield handle


@pytest.fixture
def simulator(_simulator_thread):
    _simulator_thread.reset()
    return _simulator_thread
