"""The model's function-call arguments pass the strict JSON reader, and one bad call never
stalls the call: the model hears an error as the tool's result and the call goes on.

The provider simulator sends the arguments a test scripts (``script_tool_arguments``).
"""

from __future__ import annotations

import asyncio
import json

import pytest
from channels.db import database_sync_to_async

from executions_app.models import Execution
from sessions_app.models import SessionInstance
from tests.sessions_app.audio_clips import audio_body, wav
from tests.sessions_app.helpers import session_world, start
from tests.sessions_app.realtime_client import RealtimeClient
from tests.sessions_app.turn_client import TURNS, client_for, post_turn

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("worker")]

SPOKEN = "Order 42 shipped yesterday and arrives on Friday."
# What plain json.loads took and the databases (jsonb on PostgreSQL) or JSON cannot hold.
HOSTILE = [
    pytest.param({"text": "a\x00b"}, "NUL (\\u0000)", id="nul"),
    pytest.param({"text": "\ud800"}, "lone surrogates", id="lone-surrogate"),
    pytest.param({"text": float("nan")}, "NaN is not valid JSON", id="nan"),
]


def resolve(double, call):
    return 200, {"spoken_response": SPOKEN, "order": "42"}


def outputs_to_model(simulator) -> list[dict]:
    """The function-call outputs the simulated model got so far."""
    return [
        json.loads(e["item"]["output"])
        for e in simulator.log()
        if e.get("type") == "conversation.item.create"
        and e["item"].get("type") == "function_call_output"
    ]


async def outputs_when(simulator, count: int) -> list[dict]:
    """The outputs once ``count`` have reached the simulator (its own thread logs them)."""
    for _ in range(500):
        outputs = outputs_to_model(simulator)
        if len(outputs) >= count:
            return outputs
        await asyncio.sleep(0.02)
    raise AssertionError(f"the model got {outputs_to_model(simulator)}")


@database_sync_to_async
def executions() -> int:
    return Execution.objects.count()


@database_sync_to_async
def session_status(sid: str) -> str:
    return SessionInstance.objects.get(session_id=sid).status


@pytest.fixture
def realtime(alice, admin, agent_double, simulator):
    agent_double.behaviours["resolve_voice_turn"] = resolve
    session_world(admin.client(), agent_double.base_url, transport="websocket")
    return start(alice.client()).json()["session_id"]


async def spoken_tool_turn(client: RealtimeClient, simulator, text: str) -> dict:
    simulator.script_transcripts([text])
    await client.speak()
    return await client.until("agentfield.tool.result", timeout=30)


@pytest.mark.parametrize(("arguments", "why"), HOSTILE)
async def test_realtime_bad_arguments_reach_the_model_as_an_error_and_the_call_goes_on(
    realtime, alice, simulator, agent_double, arguments, why
):
    client = RealtimeClient(realtime, headers=[(b"x-api-key", alice.secret.encode())])
    await client.connect()
    await client.until("agentfield.session.active")
    simulator.script_tool_arguments(arguments)
    result = await spoken_tool_turn(client, simulator, "please resolve voice turn for order 41")
    assert result["status"] == "refused"
    assert result["error"]["error"] == "tool_call_failed"
    assert why in result["error"]["message"]
    [heard] = await outputs_when(simulator, 1)
    assert heard == {"error": result["error"]}
    assert await executions() == 0 and not agent_double.calls

    # The call goes on: the next tool call runs and its result reaches the model.
    again = await spoken_tool_turn(client, simulator, "please resolve voice turn for order 42")
    assert again["status"] == "succeeded"
    assert (await outputs_when(simulator, 2))[-1]["spoken_response"] == SPOKEN
    assert await session_status(realtime) == "active"
    await client.close()


async def test_realtime_an_unexpected_tool_failure_still_answers_the_model(
    realtime, alice, simulator, agent_double, monkeypatch
):
    """Any failure starting the call (here one injected in the server's own code) is logged,
    and the model hears an error instead of waiting for a result that never comes."""
    import sessions_app.runtime.session as runtime

    async def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(runtime, "tool_call_start", broken)
    client = RealtimeClient(realtime, headers=[(b"x-api-key", alice.secret.encode())])
    await client.connect()
    await client.until("agentfield.session.active")
    result = await spoken_tool_turn(client, simulator, "please resolve voice turn for order 41")
    assert result["status"] == "failed"
    assert result["error"] == {
        "error": "tool_call_failed",
        "message": "the tool call failed on the server",
    }
    assert await outputs_when(simulator, 1) == [{"error": result["error"]}]
    assert await session_status(realtime) == "active"
    await client.close()


@pytest.mark.parametrize(("arguments", "why"), HOSTILE)
async def test_turns_bad_arguments_reach_the_model_as_an_error_and_the_turn_ends(
    alice, admin, agent_double, simulator, arguments, why
):
    agent_double.behaviours["resolve_voice_turn"] = resolve
    await database_sync_to_async(session_world)(admin.client(), agent_double.base_url, **TURNS)
    sid = (await database_sync_to_async(start)(alice.client())).json()["session_id"]
    simulator.script_tool_arguments(arguments)
    simulator.script_transcripts(["please resolve voice turn for order 41"])
    response = await post_turn(client_for(alice), sid, audio_body(wav(1200)))
    assert response.status_code == 200, response.content
    (call,) = response.json()["tool_calls"]
    assert call["status"] == "refused" and call["execution_id"] is None
    answered = [e for e in simulator.log() if e["type"] == "chat.request"][-1]
    tool = answered["messages"][-1]
    assert tool["role"] == "tool"
    error = json.loads(tool["text"])["error"]
    assert error["error"] == "tool_call_failed" and why in error["message"]
    assert await executions() == 0 and not agent_double.calls
