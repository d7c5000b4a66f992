"""The provider simulator for session tests: one per test run, reset for every test."""

from __future__ import annotations

import pytest

from provider_simulator import running_simulator


@pytest.fixture(scope="session")
def _simulator_process():
    with running_simulator() as handle:
        yield handle


@pytest.fixture
def simulator(_simulator_process, settings):
    """The simulator, with the control plane's OpenAI and OpenRouter settings pointing at it."""
    _simulator_process.reset()
    settings.OPENAI_API_KEY = "sk-simulator-test-key"
    settings.OPENAI_BASE_URL = _simulator_process.base_url
    settings.OPENROUTER_API_KEY = "sk-or-v1-simulator-test-key"
    settings.OPENROUTER_BASE_URL = _simulator_process.base_url
    return _simulator_process


@pytest.fixture(autouse=True)
def _loopback_ice(settings):
    """The control plane's peers offer 127.0.0.1 only and ask no STUN server."""
    settings.AGENTFIELD_WEBRTC_ICE_HOSTS = ["127.0.0.1"]
    settings.AGENTFIELD_WEBRTC_ICE_SERVERS = []
