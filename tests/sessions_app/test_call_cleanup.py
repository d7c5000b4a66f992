"""A message that fails never breaks a call, and a client that leaves always ends it.

Whatever a message does inside a consumer, the client gets an ``error`` event and the call
goes on; however the consumer ends (disconnect, an exception, a failure while connecting),
the session is finished and the provider's socket is closed: the simulator's log shows the
connection's ``simulator.disconnected``. Before this, one message that raised (a lone
surrogate reaching PostgreSQL) left the session ``active`` with its provider socket open
until its maximum duration.

Faults inside our own code are injected with ``monkeypatch``: no client input is left that
makes these paths fail, which is the point.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest
from channels.db import database_sync_to_async

from sessions_app.models import AgentLink
from sessions_app.runtime.session import SessionRuntime
from tests.sessions_app.helpers import VOICE_NODE, session_world, start
from tests.sessions_app.link_client import open_link
from tests.sessions_app.realtime_client import RealtimeClient
from tests.sessions_app.rows import finished_row, session_row
from tests.sessions_app.webrtc_calls import open_call as open_rtc_call

pytestmark = [pytest.mark.django_db(transaction=True)]

SURROGATE_TURN = (
    '{"type": "conversation.item.create", "item": {"type": "message", "role": "user", '
    '"content": [{"type": "input_text", "text": "hi \\ud800"}]}}'
)


def typed(text: str) -> dict:
    content = [{"type": "input_text", "text": text}]
    return {"type": "conversation.item.create", "item": {"type": "message", "role": "user",
                                                          "content": content}}  # fmt: skip


@pytest.fixture
def ws_session(alice, admin, simulator):
    session_world(admin.client(), transport="websocket")
    return start(alice.client()).json()


async def open_ws_call(session_id: str, caller) -> RealtimeClient:
    client = RealtimeClient(session_id, headers=[(b"x-api-key", caller.secret.encode())])
    await client.connect()
    await client.until("agentfield.session.active")
    return client


def provider_connections(simulator) -> dict[int, bool]:
    """Each realtime connection the simulator saw -> whether it has closed."""
    seen: dict[int, bool] = {}
    for entry in simulator.log():
        if entry["type"] == "simulator.connected":
            seen[entry["connection"]] = False
        elif entry["type"] == "simulator.disconnected":
            seen[entry["connection"]] = True
    return seen


async def provider_closed(simulator, timeout: float = 15) -> None:
    """Waits until the simulator saw a connection and every one it saw has closed (its log
    sends no hint, so it is re-read; ``timeout`` is only the failsafe)."""
    deadline = time.monotonic() + timeout
    while True:
        seen = provider_connections(simulator)
        if seen and all(seen.values()):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"provider connections still open: {seen}")
        await asyncio.sleep(0.05)


async def test_a_hostile_message_then_leaving_ends_the_session_and_closes_the_provider(
    ws_session, alice, simulator
):
    sid = ws_session["session_id"]
    client = await open_ws_call(sid, alice)
    await client.communicator.send_to(text_data=SURROGATE_TURN)
    assert (await client.until("error"))["error"]["code"] == "invalid_json"
    assert provider_connections(simulator) == {1: False}  # the call is still up
    await client.close()
    row = await finished_row(sid)
    assert (row.status, row.end_reason) == ("ended", "client disconnected")
    await provider_closed(simulator)


async def test_a_message_that_fails_inside_the_consumer_is_an_error_and_the_call_goes_on(
    ws_session, alice, simulator, monkeypatch
):
    async def broken(self) -> None:
        raise RuntimeError("a fault inside the runtime")

    monkeypatch.setattr(SessionRuntime, "create_response", broken)
    sid = ws_session["session_id"]
    client = await open_ws_call(sid, alice)
    await client.send({"type": "response.create", "event_id": "ev_1"})
    error = (await client.until("error"))["error"]
    assert (error["code"], error["event_id"]) == ("internal_error", "ev_1")
    assert "a fault inside" not in error["message"]  # no internals for the client
    await client.send(typed("still there?"))
    spoken = await client.until("response.output_audio_transcript.done")
    assert spoken["transcript"] == "You said: still there?"
    assert (await session_row(sid)).status == "active"
    await client.close()
    row = await finished_row(sid)
    assert (row.status, row.end_reason) == ("ended", "client disconnected")
    await provider_closed(simulator)


async def test_a_failure_while_connecting_still_fails_the_session_and_closes_the_provider(
    ws_session, alice, simulator, monkeypatch
):
    async def broken(self) -> None:
        raise RuntimeError("the channel layer is gone")

    monkeypatch.setattr(SessionRuntime, "_join_inbox", broken)  # after the provider opened
    sid = ws_session["session_id"]
    client = RealtimeClient(sid, headers=[(b"x-api-key", alice.secret.encode())])
    await client.connect()
    row = await finished_row(sid)
    assert (row.status, row.end_reason) == ("failed", "internal error")
    await provider_closed(simulator)
    with contextlib.suppress(RuntimeError):  # the consumer's own exception, re-raised
        await client.close()


@pytest.fixture
def node_key(admin, make_caller):
    session_world(admin.client(), transport="websocket", handler=True)
    return make_caller("agent", node_id=VOICE_NODE, name="voice agent")


async def test_a_link_message_that_fails_is_an_error_and_the_link_stays_until_it_closes(
    node_key, monkeypatch
):
    import sessions_app.consumers as consumers

    def broken(node, session_id):
        raise RuntimeError("the database is gone")

    link = await open_link(node_key.secret)
    assert (await link.receive_json_from())["type"] == "link.ready"
    with monkeypatch.context() as patch:
        patch.setattr(consumers, "link_session", broken)
        await link.send_json_to({"type": "session.say", "session_id": "sess_x", "text": "hi"})
        assert (await link.receive_json_from())["code"] == "internal_error"
    await link.send_json_to({"type": "session.say", "session_id": "sess_x", "text": "hi"})
    assert (await link.receive_json_from())["code"] == "not_found"  # the link goes on
    assert await database_sync_to_async(AgentLink.objects.exists)()
    await link.disconnect()
    assert not await database_sync_to_async(AgentLink.objects.exists)()


async def test_a_data_channel_message_that_fails_is_an_error_and_the_call_goes_on(
    alice, admin, simulator, monkeypatch
):
    await database_sync_to_async(session_world)(admin.client())
    sid = (await database_sync_to_async(start)(alice.client())).json()["session_id"]
    original = SessionRuntime.send_text

    async def fails_once(self, text: str) -> None:
        if text == "boom":
            raise RuntimeError("a fault inside the runtime")
        await original(self, text)

    monkeypatch.setattr(SessionRuntime, "send_text", fails_once)
    peer = await open_rtc_call(sid, caller=alice)
    await peer.until("session.active")
    peer.send({"type": "input_text", "text": "boom"})
    assert (await peer.until("error"))["code"] == "internal_error"
    peer.send({"type": "input_text", "text": "hi"})
    assert (await peer.until("turn.assistant"))["text"] == "You said: hi"
    assert (await session_row(sid)).status == "active"
    await peer.close()
    row = await finished_row(sid)
    assert (row.status, row.end_reason) == ("ended", "client disconnected")
    await provider_closed(simulator)
