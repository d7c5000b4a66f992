"""A direct-media call across two daphne processes (PostgreSQL + Redis): one answers the
offer and holds the sideband, the other serves the caller's event stream and its end route,
which hangs the call up at the provider."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from channels.db import database_sync_to_async
from django.conf import settings

from tests.servers import daphne_server
from tests.sessions_app.helpers import session_world, start
from tests.sessions_app.rows import finished_row
from tests.sessions_app.sse_client import message_of, sse_frames, stream_url
from tests.sessions_app.webrtc_client import BrowserPeer

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not settings.REDIS_URL, reason="the in-memory channel layer lives in one process"
    ),
]


@pytest.fixture
def two_daphnes(simulator):
    env = {
        "OPENAI_API_KEY": "sk-simulator",
        "OPENAI_BASE_URL": simulator.base_url,
        "AGENTFIELD_WEBRTC_ICE_HOSTS": "127.0.0.1",
    }
    with daphne_server("direct-a", **env) as a, daphne_server("direct-b", **env) as b:
        yield a, b


@pytest.fixture
def direct_session(admin, alice, simulator):
    session_world(admin.client(), media="direct")


async def test_the_stream_and_the_end_route_of_another_process_reach_the_call(
    direct_session, two_daphnes, alice, simulator
):
    call_process, other_process = two_daphnes
    sid = (await database_sync_to_async(start)(alice.client())).json()["session_id"]
    headers = {"X-API-Key": alice.secret}
    messages: list[dict] = []
    async with (
        httpx.AsyncClient(timeout=30, headers=headers) as client,
        client.stream("GET", f"{other_process.base_url}{stream_url(sid)}") as stream,
    ):
        frames = sse_frames(stream.aiter_text())
        assert await anext(frames) == ": open"  # subscribed: nothing after this is missed

        async def until(type: str) -> dict:
            async with asyncio.timeout(20):
                async for frame in frames:
                    if not frame.startswith(":"):
                        messages.append(message_of(frame))
                        if messages[-1]["type"] == type:
                            return messages[-1]
            raise AssertionError(f"the stream ended before {type}: {messages}")

        peer = BrowserPeer(label="oai-events")
        answer = await client.post(
            f"{call_process.base_url}/api/v1/session-instances/{sid}/realtime-offer",
            content=await peer.offer(),
            headers={"Content-Type": "application/sdp"},
        )
        assert answer.status_code == 200, answer.text
        await peer.accept(answer.text)
        await peer.connected()  # to the simulator's peer
        await until("session.active")
        simulator.script_transcripts(["is my parcel on its way"])
        peer.speak()
        assert (await until("turn.user"))["text"] == "is my parcel on its way"
        assert (await until("turn.assistant"))["text"] == "You said: is my parcel on its way"
        await peer.until_loud()

        ended = await client.post(
            f"{other_process.base_url}/api/v1/session-instances/{sid}/end",
            json={"reason": "done from elsewhere"},
        )
        assert ended.status_code == 200
        assert (await until("session.ended"))["reason"] == "done from elsewhere"
    row = await finished_row(sid)
    assert (row.status, row.end_reason) == ("ended", "done from elsewhere")
    hung_up = [e for e in simulator.log() if e["type"] == "simulator.call_ended"]
    assert [e["reason"] for e in hung_up] == ["hangup"]
    types = [m["type"] for m in messages]
    assert "speech.started" in types and "playback.started" in types  # what was recorded
    await peer.close()
