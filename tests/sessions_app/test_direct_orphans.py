"""A direct-media call whose daphne process dies: the beat sweep fails the session and hangs
the call up at the provider, where it would otherwise run on without its sideband."""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import timedelta

import httpx
import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from sessions_app.models import SessionInstance
from sessions_app.services.lifecycle import sessions_expire
from tests.servers import daphne_server
from tests.sessions_app.helpers import session_world, start
from tests.sessions_app.webrtc_client import BrowserPeer

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def direct_session(admin, alice, simulator):
    session_world(admin.client(), media="direct")
    return start(alice.client()).json()


def _call_ended(simulator) -> list[str]:
    return [e["reason"] for e in simulator.log() if e["type"] == "simulator.call_ended"]


def _age(session_id: str) -> None:
    old = timezone.now() - timedelta(hours=1)
    SessionInstance.objects.filter(session_id=session_id).update(last_seen_at=old)


async def test_the_sweep_hangs_up_the_call_of_a_dead_process(direct_session, alice, simulator):
    sid = direct_session["session_id"]
    env = {"OPENAI_API_KEY": "sk-simulator", "OPENAI_BASE_URL": simulator.base_url}
    peer = BrowserPeer(label="oai-events")
    with daphne_server("direct-doomed", **env) as server:
        async with httpx.AsyncClient(timeout=30) as client:
            answer = await client.post(
                f"{server.base_url}/api/v1/session-instances/{sid}/realtime-offer",
                content=await peer.offer(),
                headers={"Content-Type": "application/sdp", "X-API-Key": alice.secret},
            )
        assert answer.status_code == 200, answer.text
        await peer.accept(answer.text)
        await peer.connected()  # to the simulator's peer: the call runs at the provider
        os.killpg(server.process.pid, signal.SIGKILL)  # no goodbye, no hangup
        server.process.wait(10)
    await asyncio.sleep(0.5)
    assert _call_ended(simulator) == []  # the call runs on without its sideband
    await database_sync_to_async(_age)(sid)

    counts = await database_sync_to_async(sessions_expire)()
    assert counts["failed"] == 1
    row = await database_sync_to_async(SessionInstance.objects.get)(session_id=sid)
    assert (row.status, row.end_reason) == (
        "failed",
        "the process holding the call stopped answering",
    )
    assert _call_ended(simulator) == ["hangup"]
    await peer.close()
