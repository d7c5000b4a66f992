"""The product brief's tools-less example (tests/agentfield_sdk/brief_agent.py), verbatim,
as a real node process: a WebRTC call on loopback through a real daphne process, the
provider simulator and a real Celery worker."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from channels.db import database_sync_to_async

from access_app.models import AccessPolicy
from executions_app.models import Execution
from sessions_app.models import SessionEvent, SessionInstance
from tests.agentfield_sdk.example_process import example_agent
from tests.servers import daphne_server
from tests.sessions_app.webrtc_client import BrowserPeer
from tests.worker import ROOT

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("worker")]

BRIEF_AGENT = ROOT / "tests" / "agentfield_sdk" / "brief_agent.py"
NODE = "brief-voice"


@pytest.fixture
def brief_world(admin, make_caller, simulator):
    """The brief's sessions have no tags: team:a may start them, and the session (whose
    approved tags are none) may call support. No policy lets anyone else call support."""
    AccessPolicy.objects.create(
        name="team-a-starts-brief-sessions", caller_tags=["team:a"], target_tags=[],
        action="allow",
    )  # fmt: skip
    AccessPolicy.objects.create(
        name="untagged-sessions-call-support", caller_tags=[], target_tags=["support"],
        action="allow",
    )  # fmt: skip
    voice_key = make_caller("agent", node_id=NODE, name="brief voice node").secret
    support_key = make_caller("agent", node_id="support", name="support node").secret
    env = {
        "OPENAI_API_KEY": "sk-simulator",
        "OPENAI_BASE_URL": simulator.base_url,
        "AGENTFIELD_WEBRTC_ICE_HOSTS": "127.0.0.1",
        "AGENTFIELD_TAG_APPROVAL": "auto",
    }
    with (
        daphne_server("brief", **env) as server,
        example_agent(
            server.base_url, voice_key, support_key, name="brief-agent", script=BRIEF_AGENT
        ) as agent,
    ):
        agent.wait_for(f"{NODE} is ready")
        agent.wait_for("support is ready")
        yield server, agent


async def call(server, caller, session: str) -> tuple[str, BrowserPeer]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
        started = await client.post(
            f"/api/v1/session-targets/{NODE}.{session}/start",
            headers={"X-API-Key": caller.secret},
            json={},
        )
        assert started.status_code == 201, started.text
        body = started.json()
        assert body["tool_targets"] == {}  # declared without tools
        peer = BrowserPeer()
        answer = await client.post(
            body["offer_url"],
            content=await peer.offer(),
            headers={"X-API-Key": caller.secret, "Content-Type": "application/sdp"},
        )
    assert answer.status_code == 200, answer.text
    await peer.accept(answer.text)
    await peer.connected()
    await peer.until("session.active")
    return body["session_id"], peer


async def spoken_turn(peer: BrowserPeer, simulator, words: str) -> str:
    """Speak one turn (the simulator hears ``words``); what the caller is told back."""
    await asyncio.to_thread(simulator.script_transcripts, [words])
    peer.speak()
    assert (await peer.until("turn.user"))["text"] == words
    return (await peer.until("turn.assistant", timeout=30))["text"]


async def tool_notices(peer: BrowserPeer, count: int) -> list[tuple[str, str | None]]:
    """The first ``count`` tool notices the caller got (the result may trail the say)."""
    async with asyncio.timeout(10):
        while True:
            notices = [(e["type"], e.get("by")) for e in peer.events if e["type"][:5] == "tool."]
            if len(notices) >= count:
                return notices[:count]
            await asyncio.sleep(0.05)


@database_sync_to_async
def session_record(session_id: str) -> tuple[SessionInstance, list[Execution], list]:
    session = SessionInstance.objects.get(session_id=session_id)
    executions = list(Execution.objects.filter(session_id=session_id).order_by("created_at"))
    events = list(
        SessionEvent.objects.filter(session=session, type__in=["tool.call", "tool.result"])
        .order_by("id")
        .values_list("type", "data")
    )
    return session, executions, events


async def test_the_briefs_tools_less_handler_calls_its_reasoner_and_talks_for_many_turns(
    brief_world, alice, simulator
):
    server, agent = brief_world
    sid, peer = await call(server, alice, "voice")
    said = await spoken_turn(peer, simulator, "where is my order 1042")
    assert said == "Support heard: where is my order 1042"  # session.call ran; say reached us
    # the live page shows the handler's call and its result, marked as the handler's
    assert await tool_notices(peer, 2) == [("tool.call", "handler"), ("tool.result", "handler")]
    await asyncio.to_thread(agent.wait_for, f"session {sid}: the handler returned")
    # the handler returned, the call goes on: the next turn runs it again
    assert await spoken_turn(peer, simulator, "and my refund") == "Support heard: and my refund"
    peer.send({"type": "end"})
    assert (await peer.until("session.ended"))["reason"] == "ended by the client"
    await peer.close()

    session, executions, events = await session_record(sid)
    assert (session.status, session.end_reason) == ("ended", "ended by the client")
    assert [e.target_name for e in executions] == ["support.resolve_voice_turn"] * 2
    assert [e.status for e in executions] == ["succeeded", "succeeded"]
    assert {e.actor_id for e in executions} == {f"key:{alice.key.pk}"}  # the starter
    assert all(e.caller_tags == [] for e in executions)  # the session's tags: none
    assert [(kind, data["by"]) for kind, data in events] == [
        ("tool.call", "handler"), ("tool.result", "handler"),
    ] * 2  # fmt: skip


async def test_app_call_inside_a_handler_carries_the_session(brief_world, alice, simulator):
    server, _ = brief_world
    sid, peer = await call(server, alice, "voice_app_call")
    assert await spoken_turn(peer, simulator, "hello") == "Support heard: hello"
    peer.send({"type": "end"})
    await peer.until("session.ended")
    await peer.close()
    _, [execution], events = await session_record(sid)
    assert (execution.session_id, execution.actor_id) == (sid, f"key:{alice.key.pk}")
    assert [kind for kind, _ in events] == ["tool.call", "tool.result"]
