"""Session handlers over the agent link, against a scripted control plane."""

from __future__ import annotations

import logging

import pytest

from agentfield import Agent, SessionEnded
from tests.agentfield_sdk.fake_control_plane import eventually

SESSION = {"provider": "openai", "transport": "websocket", "tools": ["support.resolve"]}


@pytest.fixture
def app(plane) -> Agent:
    return Agent("voice-node", server=plane.url, api_key=plane.api_key, heartbeat_interval=5)


def started(session_id: str, name: str = "voice") -> dict:
    return {
        "type": "session.started",
        "session_id": session_id,
        "target": f"voice-node.{name}",
        "caller": "alice",
        "metadata": {"channel": "test"},
    }


def user_turn(session_id: str, text: str, n: int = 1) -> dict:
    turn = {"text": text, "modality": "audio", "audio_ms": 900, "turn_id": f"turn_{n}"}
    return {"type": "session.input", "session_id": session_id, "turn": turn}


async def test_a_handler_loops_over_turns_and_stops_when_the_call_ends(plane, app):
    seen: list[tuple[str, str]] = []
    outcome: dict = {}

    @app.session("voice", **SESSION)
    async def voice(session):
        outcome["caller"], outcome["metadata"] = session.caller, session.metadata
        try:
            while True:
                turn = await session.input()
                seen.append((turn.turn_id, turn.text))
                result = await session.call("support.resolve", turn=turn)
                await session.say(result["spoken_response"])
        except SessionEnded as ended:
            outcome["reason"] = ended.reason
            raise

    def resolve(target, body, headers):
        spoken = f"You said {body['input']['turn']['text']}"
        return 200, {"status": "succeeded", "result": {"spoken_response": spoken}}

    plane.execute_reply = resolve
    await app.start()
    assert plane.links_opened == 1
    [register] = plane.requests_to("/register")
    assert register.body["sessions"][0]["handler"] is True

    await plane.to_node(started("sess_1"))
    await plane.to_node(user_turn("sess_1", "order 1042", 1))
    assert await plane.next_from_node() == {
        "type": "session.say",
        "session_id": "sess_1",
        "text": "You said order 1042",
    }
    await plane.to_node(user_turn("sess_1", "thanks", 2))
    assert (await plane.next_from_node())["text"] == "You said thanks"
    calls = plane.requests_to("/execute/support.resolve")
    assert [c.headers["X-Session-ID"] for c in calls] == ["sess_1", "sess_1"]
    assert calls[0].body["input"]["turn"] == {
        "text": "order 1042",
        "modality": "audio",
        "audio_ms": 900,
        "turn_id": "turn_1",
    }
    assert "X-Parent-Execution-ID" not in calls[0].headers
    await plane.to_node({"type": "session.ended", "session_id": "sess_1", "reason": "hung up"})
    await eventually(lambda: not app._host.live)
    assert seen == [("turn_1", "order 1042"), ("turn_2", "thanks")]
    assert outcome == {"caller": "alice", "metadata": {"channel": "test"}, "reason": "hung up"}
    await plane.nothing_more_from_node()  # the call was over: no session.end back
    await app.stop()


async def test_a_handler_that_raises_fails_only_its_call(plane, app, caplog):
    @app.session("voice", **SESSION)
    async def voice(session):
        turn = await session.input()
        if turn.text == "crash":
            raise RuntimeError("the handler broke")
        await session.say("fine")

    await app.start()
    await plane.to_node(started("sess_a"))
    await plane.to_node(user_turn("sess_a", "crash"))
    assert await plane.next_from_node() == {
        "type": "session.error",
        "session_id": "sess_a",
        "message": "RuntimeError: the handler broke",
    }
    assert "the handler failed" in caplog.text
    await eventually(lambda: "sess_a" not in app._host.live)

    await plane.to_node(started("sess_b"))
    await plane.to_node(user_turn("sess_b", "hello"))
    assert (await plane.next_from_node())["text"] == "fine"

    await plane.to_node(started("sess_c", name="unknown"))
    refused = await plane.next_from_node()
    assert refused["type"] == "session.error" and "no handler" in refused["message"]
    await plane.to_node(user_turn("sess_gone", "hello?"))
    assert (await plane.next_from_node())["type"] == "session.error"
    await app.stop()


async def test_a_handler_that_returns_keeps_the_call_and_runs_again_for_the_next_turn(
    plane, app, caplog
):
    """Decision 0019: the brief's one-turn handler holds a conversation."""
    caplog.set_level(logging.INFO, logger="agentfield")
    invocations: list[str] = []

    @app.session("voice", **SESSION)
    async def voice(session):
        turn = await session.input()
        invocations.append(turn.text)
        await session.say(f"turn {len(invocations)}: {turn.text}")

    await app.start()
    await plane.to_node(started("sess_1"))
    await plane.to_node(user_turn("sess_1", "hello", 1))
    assert (await plane.next_from_node())["text"] == "turn 1: hello"
    await eventually(lambda: "the next turn runs it again" in caplog.text)
    assert "sess_1" in app._host.live
    assert plane.link_messages.empty()  # no session.end: the caller is still talking
    await plane.to_node(user_turn("sess_1", "and my refund?", 2))
    assert (await plane.next_from_node())["text"] == "turn 2: and my refund?"
    # two turns delivered at once: one invocation each, in order
    await plane.to_node(user_turn("sess_1", "three", 3))
    await plane.to_node(user_turn("sess_1", "four", 4))
    assert (await plane.next_from_node())["text"] == "turn 3: three"
    assert (await plane.next_from_node())["text"] == "turn 4: four"
    assert invocations == ["hello", "and my refund?", "three", "four"]

    await plane.to_node({"type": "session.ended", "session_id": "sess_1", "reason": "hung up"})
    await eventually(lambda: not app._host.live)
    assert "session sess_1 is over (hung up)" in caplog.text
    await plane.nothing_more_from_node()
    await app.stop()


async def test_a_returned_handler_that_took_no_turn_waits_for_a_new_one(plane, app, caplog):
    caplog.set_level(logging.INFO, logger="agentfield")
    runs: list[int] = []

    @app.session("voice", **SESSION)
    async def voice(session):
        runs.append(session.turns_pushed)  # never reads its turns

    await app.start()
    await plane.to_node(started("sess_1"))
    await eventually(lambda: runs == [0])
    await plane.to_node(user_turn("sess_1", "one", 1))
    # the host is back waiting for a new turn (it logs that, then waits): no spin
    await eventually(lambda: caplog.text.count("the next turn runs it again") == 2)
    assert runs == [0, 1]  # the queued turn it left does not make it spin
    await plane.to_node({"type": "session.ended", "session_id": "sess_1"})
    await eventually(lambda: not app._host.live)
    await app.stop()


async def test_the_link_reconnects_and_live_calls_carry_on(plane, app, caplog):
    caplog.set_level(logging.INFO, logger="agentfield")

    @app.session("voice", **SESSION)
    async def voice(session):
        while True:
            turn = await session.input()
            await session.say(turn.text)

    await app.start()
    await plane.to_node(started("sess_1"))
    await plane.drop_links()
    await eventually(lambda: plane.links_opened == 2 and app._link.connected.is_set())
    await plane.to_node(user_turn("sess_1", "still there?"))
    assert (await plane.next_from_node())["text"] == "still there?"
    assert "agent link for voice-node is open again" in caplog.text

    await app.stop()  # ends the live call first
    assert await plane.next_from_node() == {
        "type": "session.end",
        "session_id": "sess_1",
        "reason": "the agent node is shutting down",
    }


async def test_a_handler_can_end_the_call_itself_and_cannot_speak_after(plane, app):
    result: dict = {}

    @app.session("voice", **SESSION)
    async def voice(session):
        await session.end("done here")
        try:
            await session.say("too late")
        except SessionEnded:
            result["said_after_end"] = False
        await session.end()  # idempotent

    await app.start()
    await plane.to_node(started("sess_1"))
    assert await plane.next_from_node() == {
        "type": "session.end",
        "session_id": "sess_1",
        "reason": "done here",
    }
    await eventually(lambda: result == {"said_after_end": False})
    await eventually(lambda: not app._host.live)
    await plane.nothing_more_from_node()
    await app.stop()
