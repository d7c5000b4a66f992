"""WebRTC calls with ``media: direct``: an aiortc client peer on loopback whose media goes to
the provider simulator's own peer, the offer route in-process (the call's sideband and
runtime live on the test's loop), and for tool calls a real node and Celery worker.

What the control plane saw is read from its replay log; what the provider saw, from the
simulator's log."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from django.test import AsyncClient

from executions_app.models import Execution
from provider_simulator import SAY_PREFIX
from sessions_app.models import SessionEvent
from tests.sessions_app.helpers import VOICE_NODE, session_world, start
from tests.sessions_app.link_client import open_link
from tests.sessions_app.rows import finished_row, session_row
from tests.sessions_app.webrtc_calls import post_offer
from tests.sessions_app.webrtc_client import BrowserPeer

pytestmark = [pytest.mark.django_db(transaction=True)]

SPOKEN = "Order 42 shipped yesterday and arrives on Friday."


def resolve(double, call):
    return 200, {"spoken_response": SPOKEN, "order": "42"}


async def direct_call(session_id: str, **credentials) -> BrowserPeer:
    """A connected call whose peer is the simulator's; the browser's data channel is named as
    OpenAI's, but the control plane never reads it."""
    peer = BrowserPeer(label="oai-events")
    response = await post_offer(session_id, await peer.offer(), **credentials)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/sdp"
    await peer.accept(response.content.decode())
    await peer.connected()
    return peer


async def events_of(session_id: str, type: str | None = None) -> list[dict]:
    rows = SessionEvent.objects.filter(session__session_id=session_id)
    if type:
        rows = rows.filter(type=type)
    return await database_sync_to_async(lambda: [{"type": e.type, **e.data} for e in rows])()


async def until_event(session_id: str, type: str, timeout: float = 15) -> dict:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        found = await events_of(session_id, type)
        if found:
            return found[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {type} in the log of {session_id}: {await events_of(session_id)}")


def sim_entries(simulator, type: str) -> list[dict]:
    return [entry for entry in simulator.log() if entry["type"] == type]


async def until_sim(simulator, type: str, timeout: float = 10) -> dict:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        found = await asyncio.to_thread(sim_entries, simulator, type)
        if found:
            return found[-1]
        await asyncio.sleep(0.05)
    raise AssertionError(f"the simulator logged no {type}")


async def until_peer_gone(peer: BrowserPeer, timeout: float = 15) -> None:
    async with asyncio.timeout(timeout):
        while peer.pc.connectionState not in ("closed", "failed"):
            await asyncio.sleep(0.05)


@pytest.fixture
def direct_session(alice, admin, simulator):
    session_world(admin.client(), media="direct")
    return start(alice.client()).json()


async def end_route(session_id: str, caller, reason: str = "agent hung up"):
    return await AsyncClient().post(
        f"/api/v1/session-instances/{session_id}/end",
        {"reason": reason},
        "application/json",
        headers={"X-API-Key": caller.secret},
    )


@pytest.mark.usefixtures("worker")
async def test_a_direct_call_runs_the_models_tool_through_the_control_plane_and_is_heard(
    alice, admin, agent_double, simulator
):
    agent_double.behaviours["resolve_voice_turn"] = resolve
    await database_sync_to_async(session_world)(
        admin.client(), agent_double.base_url, media="direct"
    )
    started = (await database_sync_to_async(start)(alice.client())).json()
    sid = started["session_id"]
    assert started["media"] == "direct"
    simulator.script_transcripts(["please resolve voice turn for order 42"])
    peer = await direct_call(sid, caller=alice)
    call = await until_event(sid, "provider.call")
    created = await until_sim(simulator, "simulator.call_created")
    assert call == {"type": "provider.call", "media": "direct", "call_id": created["call_id"]}
    await until_sim(simulator, "simulator.sideband_attached")
    # the configuration, on the sideband too: no audio format (the SDP negotiated the codec)
    update = (await until_sim(simulator, "session.update"))["session"]
    assert update["type"] == "realtime" and update["model"] == "gpt-realtime-2"
    assert [tool["name"] for tool in update["tools"]] == ["resolve_voice_turn"]
    assert "format" not in update["audio"]["input"]

    peer.speak()  # the caller's audio goes to the simulator's peer, not to ours
    turn = await until_event(sid, "turn.user")
    assert turn["text"] == "please resolve voice turn for order 42" and turn["audio_ms"] > 700
    tool = await until_event(sid, "tool.call", timeout=30)
    assert tool["tool"] == "resolve_voice_turn"
    result = await until_event(sid, "tool.result", timeout=30)
    assert result["status"] == "succeeded"
    assert (await until_event(sid, "turn.assistant"))["text"] == SPOKEN
    await peer.until_loud()  # the answer, played by the provider's peer
    execution = await database_sync_to_async(Execution.objects.get)(
        execution_id=tool["execution_id"]
    )
    assert execution.session_id == sid and execution.status == "succeeded"
    assert agent_double.calls[0].headers["X-Session-ID"] == sid
    outputs = [
        e for e in simulator.log()
        if e["type"] == "conversation.item.create" and e["item"]["type"] == "function_call_output"
    ]  # fmt: skip
    assert [o["item"]["call_id"] for o in outputs] == [tool["call_id"]]  # over the sideband

    assert (await end_route(sid, alice)).status_code == 200
    row = await finished_row(sid)
    assert (row.status, row.end_reason) == ("ended", "agent hung up")
    ended = await until_sim(simulator, "simulator.call_ended")
    assert ended["reason"] == "hangup"  # the control plane hung the call up at the provider
    assert row.audio_in_ms == 0  # no audio passed through the control plane
    await peer.close()


async def test_the_caller_hanging_up_ends_the_session(direct_session, alice, simulator):
    sid = direct_session["session_id"]
    peer = await direct_call(sid, caller=alice)
    await until_sim(simulator, "simulator.sideband_attached")
    await peer.close()  # the browser leaves the provider's peer
    row = await finished_row(sid)
    assert row.status == "ended"
    assert row.end_reason.startswith("the call ended at the provider")
    assert (await until_sim(simulator, "simulator.call_ended"))["reason"] != "hangup"


async def test_a_direct_call_at_its_maximum_duration_is_hung_up(alice, admin, simulator, settings):
    settings.AGENTFIELD_SESSION_MAX_SECONDS = 2
    await database_sync_to_async(session_world)(admin.client(), media="direct")
    sid = (await database_sync_to_async(start)(alice.client())).json()["session_id"]
    peer = await direct_call(sid, caller=alice)
    row = await finished_row(sid, timeout=20)  # the runtime's heartbeat ends it
    assert (row.status, row.end_reason) == ("ended", "maximum session duration reached")
    assert (await until_sim(simulator, "simulator.call_ended"))["reason"] == "hangup"
    await until_peer_gone(peer)
    await peer.close()


async def test_a_lost_sideband_fails_the_session_and_hangs_the_call_up(
    direct_session, alice, simulator
):
    sid = direct_session["session_id"]
    peer = await direct_call(sid, caller=alice)
    await until_sim(simulator, "simulator.sideband_attached")
    assert await asyncio.to_thread(simulator.inject_fault, "drop") >= 1
    row = await finished_row(sid)
    assert row.status == "failed"
    assert row.end_reason.startswith("provider closed the connection")
    ended = await until_sim(simulator, "simulator.call_ended")
    assert ended["reason"] == "hangup"  # the call does not run on without its sideband
    await until_peer_gone(peer)  # the provider's peer left with the call
    await peer.close()


@pytest.fixture
def node_key(make_caller, admin, simulator):
    session_world(admin.client(), media="direct", handler=True)
    return make_caller("agent", node_id=VOICE_NODE, name="voice agent")


async def test_a_handler_drives_a_direct_call_and_its_say_is_spoken(node_key, alice, simulator):
    link = await open_link(node_key.secret)
    await link.receive_json_from()  # link.ready
    sid = (await database_sync_to_async(start)(alice.client())).json()["session_id"]
    peer = await direct_call(sid, caller=alice)
    hello = await link.receive_json_from(timeout=10)
    assert (hello["type"], hello["session_id"]) == ("session.started", sid)

    simulator.script_transcripts(["where is my order 42"])
    peer.speak()
    turn = (await link.receive_json_from(timeout=15))["turn"]
    assert (turn["text"], turn["modality"]) == ("where is my order 42", "audio")
    reply = "Your order 42 left our warehouse this morning."
    await link.send_json_to({"type": "session.say", "session_id": sid, "text": reply})
    await link.send_json_to({"type": "session.end", "session_id": sid, "reason": "resolved"})
    await peer.until_loud()
    row = await finished_row(sid, timeout=30)
    assert (row.status, row.end_reason) == ("ended", "resolved")
    spoken = [e["text"] for e in simulator.log() if e["type"] == "simulator.spoke"]
    assert spoken == [reply]
    creates = [e for e in simulator.log() if e["type"] == "response.create"]
    assert creates[-1]["response"]["instructions"] == SAY_PREFIX + reply
    assert (await until_sim(simulator, "simulator.call_ended"))["reason"] == "hangup"
    assert (await link.receive_json_from(timeout=5))["type"] == "session.ended"
    await link.disconnect()
    await peer.close()


async def test_a_refused_call_is_502_and_fails_the_session(direct_session, alice, simulator):
    sid = direct_session["session_id"]
    peer = BrowserPeer(label="oai-events")
    await asyncio.to_thread(
        simulator.inject_fault, "http_error", "next_call", 503, "calls are down"
    )
    response = await post_offer(sid, await peer.offer(), caller=alice)
    assert response.status_code == 502
    assert response.json()["error"].startswith("OpenAI realtime call failed (503)")
    row = await session_row(sid)
    assert row.status == "failed" and "provider unavailable" in row.end_reason
    await peer.close()


async def test_a_call_whose_sideband_is_refused_is_hung_up_and_502(
    direct_session, alice, simulator
):
    """OpenAI documents calls whose sideband answers 404 call_id_not_found: such a call
    must not run on at the provider without its tools."""
    sid = direct_session["session_id"]
    peer = BrowserPeer(label="oai-events")
    await asyncio.to_thread(simulator.inject_fault, "http_error", "next_sideband")
    response = await post_offer(sid, await peer.offer(), caller=alice)
    assert response.status_code == 502
    assert response.json()["error"].startswith("OpenAI realtime call failed (404)")
    assert "call_id_not_found" in response.json()["error"]
    assert (await session_row(sid)).status == "failed"
    assert (await until_sim(simulator, "simulator.call_ended"))["reason"] == "hangup"
    await peer.close()


async def test_another_caller_cannot_offer_for_the_session(direct_session, alice, bob):
    sid = direct_session["session_id"]
    peer = BrowserPeer(label="oai-events")
    response = await post_offer(sid, await peer.offer(), caller=bob)
    assert (response.status_code, response.json()) == (404, {"error": "session not found"})
    assert (await session_row(sid)).status == "created"
    await peer.close()
