"""The scripted control plane the in-process SDK tests run nodes against."""

from __future__ import annotations

import pytest

from tests.agentfield_sdk.fake_control_plane import FakeControlPlane


@pytest.fixture
async def plane():
    fake = await FakeControlPlane().start()
    yield fake
    await fake.stop()
