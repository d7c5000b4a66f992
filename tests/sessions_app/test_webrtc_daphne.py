"""A WebRTC call answered by a real daphne process, which then owns it; on PostgreSQL +
Redis the end route, served by another process, reaches it over the channel layer."""

from __future__ import annotations

import httpx
import pytest
from channels.db import database_sync_to_async
from django.conf import settings

from tests.servers import daphne_server
from tests.sessions_app.helpers import session_world, start
from tests.sessions_app.rows import finished_row
from tests.sessions_app.webrtc_client import BrowserPeer

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def daphne(simulator):
    env = {"OPENAI_API_KEY": "sk-simulator", "OPENAI_BASE_URL": simulator.base_url}
    with daphne_server("webrtc", **env) as server:
        yield server


async def test_the_process_that_answers_the_offer_owns_the_call(daphne, admin, alice):
    await database_sync_to_async(session_world)(admin.client())
    sid = (await database_sync_to_async(start)(alice.client())).json()["session_id"]
    peer = BrowserPeer()
    async with httpx.AsyncClient(base_url=daphne.base_url) as client:
        response = await client.post(
            f"/api/v1/session-instances/{sid}/realtime-offer",
            content=await peer.offer(),
            headers={"X-API-Key": alice.secret, "Content-Type": "application/sdp"},
        )
    assert response.status_code == 200, response.text
    await peer.accept(response.text)
    await peer.connected()
    await peer.until("session.active")
    peer.speak()
    assert (await peer.until("turn.user"))["text"].startswith("speech of")
    if settings.REDIS_URL:  # ended by a request this process serves, not the call's
        url = f"/api/v1/session-instances/{sid}/end"
        await database_sync_to_async(alice.client().post)(url, {"reason": "done"}, format="json")
        reason = "done"
    else:
        peer.send({"type": "end"})
        reason = "ended by the client"
    assert (await peer.until("session.ended"))["reason"] == reason
    row = await finished_row(sid)
    assert (row.status, row.end_reason) == ("ended", reason)
    await peer.close()
