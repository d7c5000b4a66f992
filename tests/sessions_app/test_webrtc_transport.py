"""WebRTC calls end to end without a browser: an aiortc client peer on loopback, the offer
route in-process, the provider simulator, and for tool calls a real node and Celery worker."""

from __future__ import annotations

import asyncio
import json

import pytest
from channels.db import database_sync_to_async
from django.test import AsyncClient

from executions_app.models import Execution
from tests.sessions_app.helpers import session_world, start
from tests.sessions_app.rows import finished_row, session_row
from tests.sessions_app.webrtc_calls import open_call, post_offer
from tests.sessions_app.webrtc_client import BrowserPeer

pytestmark = [pytest.mark.django_db(transaction=True)]

SPOKEN = "Order 42 shipped yesterday and arrives on Friday."
CHANNEL_TYPES = {
    "session.active", "session.ended", "session.failed", "speech.started", "speech.stopped",
    "turn.user", "transcript.delta", "turn.assistant", "response.started", "response.done",
    "tool.call", "tool.result", "error", "playback.started", "playback.stopped",
}  # fmt: skip


@pytest.fixture
def rtc_session(alice, admin, simulator):
    session_world(admin.client())
    return start(alice.client()).json()


async def test_a_call_carries_audio_and_events_both_ways_until_the_browser_ends_it(
    rtc_session, alice
):
    sid = rtc_session["session_id"]
    peer = await open_call(sid, caller=alice)
    active = await peer.until("session.active")  # sent before the channel opened: queued
    assert active["session_id"] == sid
    await peer.until_frames(15)  # 300 ms of the call's track
    assert peer.heard_frames > 5 and peer.loud_frames == 0  # silence while idle

    peer.speak()
    await peer.until("speech.started")
    await peer.until("speech.stopped")
    turn = await peer.until("turn.user")
    assert turn["text"].startswith("speech of ") and turn["audio_ms"] > 700
    await peer.until("response.started")
    delta = await peer.until("transcript.delta")
    assert delta["role"] == "assistant" and delta["text"]
    assert (await peer.until("turn.assistant"))["text"] == f"You said: {turn['text']}"
    assert (await peer.until("response.done"))["status"] == "completed"
    await peer.until_loud()  # the reply's audio, on the call's audio track

    peer.send({"type": "input_text", "text": "hi"})
    assert (await peer.until("turn.assistant"))["text"] == "You said: hi"
    peer.send("{not json")
    assert (await peer.until("error"))["code"] == "invalid_json"
    peer.send('{"type": "input_text", "text": "\\ud800"}')  # failed the call on PostgreSQL
    assert (await peer.until("error"))["code"] == "invalid_json"
    peer.send({"type": "made.up"})
    assert (await peer.until("error"))["code"] == "unknown_event"
    peer.send({"type": "input_text", "text": ""})
    assert (await peer.until("error"))["code"] == "invalid_event"

    peer.send({"type": "end"})
    ended = await peer.until("session.ended")
    assert ended["reason"] == "ended by the client"
    await asyncio.wait_for(peer.channel_closed.wait(), 5)
    row = await finished_row(sid)
    assert (row.status, row.end_reason) == ("ended", "ended by the client")
    assert row.turns == 2 and row.audio_in_ms > 1000 and row.audio_out_ms > 0
    assert set(peer.types()) <= CHANNEL_TYPES  # never audio on the channel
    # the reply's words and its end come as the track plays them, between its playback events
    types = peer.types()
    started, delta = types.index("playback.started"), types.index("transcript.delta")
    done, stopped = types.index("response.done"), types.index("playback.stopped")
    assert started < delta < types.index("turn.assistant") < done < stopped
    assert all("audio" not in json.loads(raw) for raw in peer.raw_messages if raw[0] == "{")
    await peer.close()


def resolve(double, call):
    return 200, {"spoken_response": SPOKEN, "order": "42"}


@pytest.mark.usefixtures("worker")
async def test_a_spoken_turn_calls_a_tool_on_a_real_node_and_the_reply_is_heard(
    alice, admin, agent_double, simulator
):
    agent_double.behaviours["resolve_voice_turn"] = resolve
    await database_sync_to_async(session_world)(admin.client(), agent_double.base_url)
    sid = (await database_sync_to_async(start)(alice.client())).json()["session_id"]
    simulator.script_transcripts(["please resolve voice turn for order 42"])
    peer = await open_call(sid, caller=alice)
    peer.speak()
    assert (await peer.until("turn.user"))["text"] == "please resolve voice turn for order 42"
    call = await peer.until("tool.call")
    assert call["tool"] == "resolve_voice_turn"
    result = await peer.until("tool.result", timeout=30)
    assert result["status"] == "succeeded" and result["execution_id"] == call["execution_id"]
    assert (await peer.until("turn.assistant"))["text"] == SPOKEN
    await peer.until_loud()
    execution = await database_sync_to_async(Execution.objects.get)(
        execution_id=call["execution_id"]
    )
    assert execution.session_id == sid
    assert agent_double.calls[0].headers["X-Session-ID"] == sid

    await peer.close()  # the browser hangs up
    row = await finished_row(sid)
    assert (row.status, row.end_reason) == ("ended", "client disconnected")
    assert row.tool_calls == 1


async def test_a_second_offer_is_409_and_one_after_the_end_410(rtc_session, alice):
    sid = rtc_session["session_id"]
    secret = rtc_session["client_secret"]["value"]
    peer = await open_call(sid, headers={"Authorization": f"Bearer {secret}"})
    second = BrowserPeer()
    response = await post_offer(sid, await second.offer(), caller=alice)
    assert (response.status_code, response.json()) == (
        409,
        {"error": f"session {sid} is already connected"},
    )
    url = f"/api/v1/session-instances/{sid}/end"
    await AsyncClient().post(
        url, {"reason": "agent hung up"}, "application/json", headers={"X-API-Key": alice.secret}
    )
    ended = await peer.until("session.ended")  # the end route reaches the live call
    assert ended["reason"] == "agent hung up"
    await asyncio.wait_for(peer.channel_closed.wait(), 5)
    response = await post_offer(sid, await second.offer(), caller=alice)
    assert (response.status_code, response.json()) == (410, {"error": f"session {sid} is ended"})
    await peer.close()
    await second.close()


AUDIO_WITHOUT_ICE = (
    "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 96\r\n"
    "c=IN IP4 0.0.0.0\r\na=rtpmap:96 opus/48000/2\r\na=mid:0\r\n"
)


async def test_offers_are_validated_in_upstreams_order_with_its_messages(
    rtc_session, alice, bob, settings
):
    sid = rtc_session["session_id"]
    offer = await (peer := BrowserPeer()).offer()

    async def refused(sdp=offer, query="", caller=alice):
        response = await post_offer(sid, sdp, caller=caller, query=query)
        return response.status_code, response.json()

    assert await refused(caller=bob) == (404, {"error": "session not found"})
    assert (await post_offer(sid, offer)).status_code == 401
    assert await refused(query="?transport=websocket&provider=openai", sdp="") == (
        400,
        {"error": "realtime-offer requires transport=webrtc"},
    )
    assert await refused(query="?transport=webrtc") == (
        400,
        {"error": "Session provider is required; AgentField does not infer providers."},
    )
    settings.AGENTFIELD_SESSION_CAPABILITIES = {"openai": ("webrtc",), "custom": ("webrtc",)}
    assert await refused(query="?provider=custom&transport=webrtc") == (
        400,
        {"error": "webrtc realtime offers currently require provider=openai"},
    )
    settings.OPENAI_API_KEY = ""
    assert await refused(sdp=" ", query="?provider=openai&transport=webrtc") == (
        502,
        {"error": "OPENAI_API_KEY is required for provider=openai transport=webrtc"},
    )
    settings.OPENAI_API_KEY = "sk-simulator-test-key"
    assert await refused(sdp=" \r\n") == (400, {"error": "SDP offer body is required"})
    assert await refused(sdp="hello") == (
        400,
        {"error": "invalid SDP offer: it needs exactly one audio section, it has 0"},
    )
    assert await refused(sdp=AUDIO_WITHOUT_ICE) == (
        400,
        {"error": "invalid SDP offer: ICE username fragment or password is missing"},
    )
    assert (await session_row(sid)).status == "created"  # a bad offer claims nothing
    await peer.close()


async def test_an_offer_for_a_websocket_session_is_400_before_any_credential_check(
    alice, admin, simulator, settings
):
    await database_sync_to_async(session_world)(admin.client(), transport="websocket")
    sid = (await database_sync_to_async(start)(alice.client())).json()["session_id"]
    peer = BrowserPeer()
    error = f"session {sid} uses transport=websocket; realtime-offer requires transport=webrtc"
    for key in ("sk-simulator-test-key", ""):  # with no provider key too: 400, not 502
        settings.OPENAI_API_KEY = key
        response = await post_offer(sid, await peer.offer(), caller=alice)
        assert (response.status_code, response.json()) == (400, {"error": error})
    await peer.close()


async def test_a_provider_that_refuses_the_call_is_502_and_fails_the_session(
    rtc_session, alice, settings, simulator
):
    settings.OPENAI_BASE_URL = simulator.base_url.replace("/v1", "/gone")
    sid = rtc_session["session_id"]
    peer = BrowserPeer()
    response = await post_offer(sid, await peer.offer(), caller=alice)
    assert response.status_code == 502
    assert response.json() == {
        "error": "OpenAI realtime call failed (404): 404: Not Found",
        "boundary": "control-plane -> realtime provider",
        "provider": "openai",
    }
    row = await session_row(sid)
    assert row.status == "failed" and row.end_reason.startswith("provider unavailable")
    await peer.close()


async def test_a_peer_that_never_connects_fails_the_session(rtc_session, alice, settings):
    settings.AGENTFIELD_WEBRTC_CONNECT_TIMEOUT = 0.5
    sid = rtc_session["session_id"]
    peer = BrowserPeer()
    response = await post_offer(sid, await peer.offer(), caller=alice)
    assert response.status_code == 200  # the answer is never used
    row = await finished_row(sid)
    assert (row.status, row.end_reason) == (
        "failed",
        "the WebRTC peer did not connect within 0.5 s",
    )
    await peer.close()


async def test_a_provider_that_drops_fails_the_session_and_closes_the_call(
    rtc_session, alice, simulator
):
    sid = rtc_session["session_id"]
    peer = await open_call(sid, caller=alice)
    await peer.until("session.active")
    await asyncio.to_thread(simulator.inject_fault, "drop", "now")
    failed = await peer.until("session.failed")
    assert failed["reason"].startswith("provider closed the connection")
    await asyncio.wait_for(peer.channel_closed.wait(), 5)
    assert (await session_row(sid)).status == "failed"
    await peer.close()


async def test_speech_during_the_reply_cancels_it_and_silences_the_track(
    rtc_session, alice, simulator
):
    await asyncio.to_thread(simulator.set_pace, 1.0)
    await asyncio.to_thread(simulator.script_transcripts, ["tell me a long story " * 8, "stop"])
    peer = await open_call(rtc_session["session_id"], caller=alice)
    peer.speak()
    await peer.until("response.started")
    await peer.until_loud()
    peer.speak()
    assert (await peer.until("response.done"))["status"] == "cancelled"
    await peer.until_quiet(15)  # what was in flight has played out
    loud = peer.loud_frames
    await peer.until_frames(25)  # 500 ms more of the track
    assert peer.loud_frames == loud  # the rest of the reply was dropped, not played
    await peer.close()
    await finished_row(rtc_session["session_id"])
