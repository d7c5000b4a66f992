"""A full call over the realtime WebSocket transport against the provider simulator.

The model's function call runs as a real execution (Celery worker, HTTP agent node), and
its result reaches the model, which then speaks it.
"""

from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async

from executions_app.models import Execution
from sessions_app.models import SessionInstance
from tests.sessions_app.helpers import session_world, start
from tests.sessions_app.realtime_client import RealtimeClient

pytestmark = [pytest.mark.django_db(transaction=True)]

SPOKEN = "Order 42 shipped yesterday and arrives on Friday."


def resolve(double, call):
    return 200, {"spoken_response": SPOKEN, "order": "42"}


@pytest.fixture
def started(alice, admin, agent_double, simulator):
    agent_double.behaviours["resolve_voice_turn"] = resolve
    session_world(admin.client(), agent_double.base_url, transport="websocket")
    return start(alice.client()).json()


def key_headers(caller):
    return [(b"x-api-key", caller.secret.encode())]


@database_sync_to_async
def session_row(session_id):
    return SessionInstance.objects.get(session_id=session_id)


@database_sync_to_async
def event_types(session_id):
    return list(
        SessionInstance.objects.get(session_id=session_id)
        .events.order_by("id")
        .values_list("type", flat=True)
    )


@pytest.mark.usefixtures("worker")
async def test_a_spoken_turn_calls_a_tool_on_a_real_node_and_the_model_speaks_its_result(
    started, alice, simulator, agent_double
):
    sid = started["session_id"]
    simulator.script_transcripts(["please resolve voice turn for order 42"])
    client = RealtimeClient(sid, headers=key_headers(alice))
    await client.connect()
    await client.until("agentfield.session.active")
    assert (await session_row(sid)).status == "active"
    await client.speak()
    await client.until("input_audio_buffer.speech_started")
    transcript = await client.until("conversation.item.input_audio_transcription.completed")
    assert transcript["transcript"] == "please resolve voice turn for order 42"
    call = await client.until("agentfield.tool.call")
    assert call["tool"] == "resolve_voice_turn"
    result = await client.until("agentfield.tool.result", timeout=30)
    assert result["status"] == "succeeded"
    assert result["execution_id"] == call["execution_id"]
    spoken = await client.until("response.output_audio_transcript.done")
    assert spoken["transcript"] == SPOKEN
    assert "response.output_audio.delta" in client.types()
    assert "function_call" not in json.dumps(client.received)  # the client never sees it

    outputs = [e for e in simulator.log() if e.get("type") == "conversation.item.create"]
    sent = outputs[-1]["item"]
    assert sent["type"] == "function_call_output"
    assert json.loads(sent["output"])["spoken_response"] == SPOKEN

    execution = await database_sync_to_async(Execution.objects.get)(
        execution_id=call["execution_id"]
    )
    assert execution.session_id == sid
    assert execution.caller_tags == ["pii:limited", "support:voice"]
    assert agent_double.calls[0].headers["X-Session-ID"] == sid

    await client.close()
    row = await session_row(sid)
    assert (row.status, row.end_reason) == ("ended", "client disconnected")
    assert row.turns == 1 and row.tool_calls == 1 and row.audio_in_ms == 1500
    assert row.audio_out_ms > 0
    types = await event_types(sid)
    for expected in ["session.connecting", "session.active", "turn.user", "tool.call",
                     "tool.result", "turn.assistant", "session.ended"]:  # fmt: skip
        assert expected in types


@pytest.fixture
def ws_session(alice, admin, simulator):
    session_world(admin.client(), transport="websocket")
    return start(alice.client()).json()


async def open_call(ws_session, alice) -> RealtimeClient:
    client = RealtimeClient(ws_session["session_id"], headers=key_headers(alice))
    await client.connect()
    await client.until("agentfield.session.active")
    return client


async def test_a_typed_turn_is_answered_and_logged(ws_session, alice):
    client = await open_call(ws_session, alice)
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
    await client.send({"type": "conversation.item.create", "item": item})
    spoken = await client.until("response.output_audio_transcript.done")
    assert spoken["transcript"] == "You said: hi"
    await client.close()
    types = await event_types(ws_session["session_id"])
    assert "turn.user" in types and "turn.assistant" in types


async def test_bad_client_events_get_error_events_and_the_call_goes_on(
    ws_session, alice, simulator
):
    client = await open_call(ws_session, alice)
    cases = [
        ({"type": "session.update", "session": {"tools": []}}, "session_update_forbidden"),
        ({"type": "session.update", "session": {"model": "x"}}, "session_update_forbidden"),
        ({"type": "input_audio_buffer.append", "audio": "%%%"}, "invalid_audio"),
        ({"type": "conversation.item.create", "item": {"type": "function_call_output"}},
         "unsupported_item"),
        ({"type": "made.up", "event_id": "e1"}, "unknown_event"),
    ]  # fmt: skip
    for event, code in cases:
        await client.send(event)
        error = await client.until("error")
        assert error["error"]["code"] == code
    assert error["error"]["event_id"] == "e1"
    await client.communicator.send_to(text_data="{not json")
    assert (await client.until("error"))["error"]["code"] == "invalid_json"
    allowed = {"type": "realtime", "instructions": "Be brief.", "audio": {"output": {"voice": "x"}}}
    await client.send({"type": "session.update", "session": allowed})
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "ok"}]}
    await client.send({"type": "conversation.item.create", "item": item})
    await client.until("response.output_audio_transcript.done")
    updates = [e["session"] for e in simulator.log() if e["type"] == "session.update"]
    assert updates[-1]["instructions"] == "Be brief."
    assert updates[-1]["audio"] == {"output": {"voice": "x"}}
    assert all("tools" not in u for u in updates[1:])
    await client.close()


async def test_handshakes_that_cannot_become_a_call_are_told_why(ws_session, alice, bob):
    sid = ws_session["session_id"]
    stranger = RealtimeClient(sid, headers=key_headers(bob))
    await stranger.connect()
    assert (await stranger.next())["error"]["status"] == 404
    assert await stranger.closed_code() == 4404
    anonymous = RealtimeClient(sid)
    await anonymous.connect()
    assert await anonymous.closed_code() == 4401
    secret = ws_session["client_secret"]["value"]
    first = RealtimeClient(sid, query=f"?client_secret={secret}")
    await first.connect()
    await first.until("agentfield.session.active")
    second = RealtimeClient(sid, headers=key_headers(alice))
    await second.connect()
    refused = await second.next()
    assert refused["error"]["message"] == f"session {sid} is already connected"
    assert await second.closed_code() == 4409
    await first.close()
    late = RealtimeClient(sid, headers=key_headers(alice))
    await late.connect()
    assert (await late.next())["error"]["message"] == f"session {sid} is ended"
    assert await late.closed_code() == 4410


async def test_a_provider_that_drops_the_socket_fails_the_session_and_tells_the_client(
    ws_session, alice, simulator
):
    client = await open_call(ws_session, alice)
    simulator.inject_fault("drop", "now")
    failed = await client.until("agentfield.session.failed")
    assert failed["reason"].startswith("provider closed the connection")
    assert await client.closed_code() == 1011
    row = await session_row(ws_session["session_id"])
    assert row.status == "failed" and row.end_reason.startswith("provider closed")
    assert "provider.error" in await event_types(ws_session["session_id"])


async def test_a_provider_error_event_is_passed_on_and_logged_and_the_call_continues(
    ws_session, alice, simulator
):
    client = await open_call(ws_session, alice)
    simulator.inject_fault("error", "now")
    error = await client.until("error")
    assert error["error"]["code"] == "simulated_error"
    assert (await session_row(ws_session["session_id"])).status == "active"
    assert "provider.error" in await event_types(ws_session["session_id"])
    await client.close()


async def test_without_provider_credentials_the_session_fails_with_a_clear_reason(
    ws_session, alice, settings
):
    settings.OPENAI_API_KEY = ""
    client = RealtimeClient(ws_session["session_id"], headers=key_headers(alice))
    await client.connect()
    failed = await client.until("agentfield.session.failed")
    assert "OPENAI_API_KEY is required for provider=openai" in failed["reason"]
    assert await client.closed_code() == 1011


async def test_user_speech_during_the_reply_cancels_it_and_flushes_playback(
    ws_session, alice, simulator
):
    simulator.set_pace(1.0)
    client = await open_call(ws_session, alice)
    simulator.script_transcripts(["tell me a long story " * 8, "stop"])
    await client.speak()
    await client.until("response.output_audio.delta")
    await client.speak()
    await client.until("agentfield.playback.flush")
    done = await client.until("response.done")
    assert done["response"]["status"] == "cancelled"
    await client.close()


async def test_the_end_route_from_anywhere_closes_the_live_call(ws_session, alice):
    client = await open_call(ws_session, alice)
    url = f"/api/v1/session-instances/{ws_session['session_id']}/end"
    await database_sync_to_async(alice.client().post)(
        url, {"reason": "agent hung up"}, format="json"
    )
    ended = await client.until("agentfield.session.ended")
    assert ended["reason"] == "agent hung up"
    assert await client.closed_code() == 1000
