"""The TypeScript SDK (``sdk/typescript``, ``@agentfield/sdk``) against a real control plane.

The package is built once per run (``npm ci`` when needed). Its own tests run under
``node --test``; the session tests run TypeScript and Python SDK nodes as real processes
beside daphne and a Celery worker, with the provider simulator in OpenAI's place.
"""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from channels.db import database_sync_to_async
from websockets.sync.client import connect

from access_app.models import AccessPolicy, AgentNode
from executions_app.models import Execution
from provider_simulator.audio import CHUNK_BYTES, chunks, silence, tone
from sessions_app.models import SessionInstance
from tests.sdk_typescript.node import (
    node_test,
    python_node,
    typescript_example,
    typescript_node,
)
from tests.servers import daphne_server
from tests.sessions_app.webrtc_client import BrowserPeer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("worker")]


def passed(done) -> None:
    assert done.returncode == 0, f"node --test failed:\n{done.stdout}\n{done.stderr}"


def allow(name: str, caller_tags: list[str], target_tags: list[str]) -> None:
    AccessPolicy.objects.create(
        name=name, caller_tags=caller_tags, target_tags=target_tags, action="allow"
    )


@pytest.fixture
def voice_policies():
    """team:a may start voice sessions; a voice session's calls may reach `support` targets."""
    allow("team-a-starts-voice", ["team:a"], ["support:voice"])
    allow("voice-calls-support", ["support:voice"], ["support"])


def provider(simulator) -> dict[str, str]:
    return {"OPENAI_API_KEY": "sk-simulator", "OPENAI_BASE_URL": simulator.base_url}


def test_the_packages_own_unit_tests_pass(typescript_sdk):
    passed(node_test("unit/declarations.test.js", "unit/sessionHost.test.js"))


def test_a_typescript_node_registers_waits_for_approval_and_serves_executions(
    typescript_sdk, make_caller, admin
):
    node_key = make_caller("agent", node_id="ts-support", tags=["team:ts"], name="ts node")
    caller = make_caller("caller", tags=["team:ts"], name="ts caller")
    allow("team-ts-calls-support", ["team:ts"], ["support"])
    with daphne_server("ts-node", AGENTFIELD_TAG_APPROVAL="manual") as server:
        done = node_test(
            "integration/node.test.js",
            AGENTFIELD_SERVER=server.base_url,
            AGENTFIELD_API_KEY=node_key.secret,
            TS_ADMIN_KEY=admin.secret,
            TS_CALLER_KEY=caller.secret,
        )
    passed(done)
    assert "# pass 6" in done.stdout and "# fail 0" in done.stdout
    assert node_key.secret not in done.stdout + done.stderr
    slow = Execution.objects.get(target_name="ts-support.slowLookup")
    assert (slow.status, slow.result) == ("succeeded", {"order": "1042", "status": "shipped"})


async def test_the_briefs_typescript_tab_verbatim_serves_a_webrtc_call(
    typescript_sdk, make_caller, alice, simulator, voice_policies
):
    """The brief's snippet as a node process; its ``session.call`` reaches a reasoner on a
    Python SDK node (``support.resolveVoiceTurn``, camelCase as in the brief). The handler
    returns after each turn; the next turn runs it again on the same live call."""
    make = database_sync_to_async(make_caller)
    voice_key = await make("agent", node_id="voice-support-af", name="voice-support-af")
    support_key = await make("agent", node_id="support", name="support")
    env = {**provider(simulator), "AGENTFIELD_TAG_APPROVAL": "auto"}
    with (
        daphne_server("ts-brief", **env) as server,
        python_node(
            "support", "py-support", AGENTFIELD_SERVER=server.base_url,
            AGENTFIELD_API_KEY=support_key.secret,
        ) as support,
        typescript_node(
            "brief.js", "ts-brief", AGENTFIELD_SERVER=server.base_url,
            AGENTFIELD_API_KEY=voice_key.secret,
        ) as brief,
    ):  # fmt: skip
        support.wait_for("support is ready")
        brief.wait_for("voice-support-af is ready")
        async with httpx.AsyncClient(
            base_url=server.base_url, headers={"X-API-Key": alice.secret}, timeout=30
        ) as api:
            started = await api.post("/api/v1/session-targets/voice-support-af.voice/start")
            assert started.status_code == 201, started.text
            session_id = started.json()["session_id"]
            peer = BrowserPeer(measure_audio=False)
            answer = await api.post(
                started.json()["offer_url"],
                content=await peer.offer(),
                headers={"Content-Type": "application/sdp"},
            )
            assert answer.status_code == 200, answer.text
            await peer.accept(answer.text)
            try:
                await peer.connected()
                await peer.until("session.active")
                peer.send({"type": "input_text", "text": "Where is my order 1042?"})
                said = await peer.until("handler.say", timeout=30)
                assert said["text"] == "Python heard: Where is my order 1042?"
                peer.send({"type": "input_text", "text": "And order 2077?"})
                said = await peer.until("handler.say", timeout=30)
                assert said["text"] == "Python heard: And order 2077?"
                peer.send({"type": "end"})
                assert (await peer.until("session.ended"))["reason"] == "ended by the client"
            finally:
                await peer.close()
        brief.wait_for(f"session {session_id} is over (ended by the client)")
        assert brief.terminate() == 0
    assert voice_key.secret not in brief.log()

    executions = await database_sync_to_async(list)(
        Execution.objects.filter(target_name="support.resolveVoiceTurn").order_by("created_at")
    )
    assert [e.status for e in executions] == ["succeeded", "succeeded"]
    assert {e.session_id for e in executions} == {session_id}
    first = executions[0]
    assert first.input["turn"]["text"] == "Where is my order 1042?"
    assert first.input["turn"]["modality"] == "text"
    assert first.result["turnId"] == first.input["turn"]["turn_id"]
    assert first.caller_tags == ["pii:limited", "support:voice"]
    session = await database_sync_to_async(SessionInstance.objects.get)(session_id=session_id)
    assert session.end_reason == "ended by the client"


def speech_events() -> list[str]:
    """800 ms of tone, then the 700 ms of silence that ends the turn, as appends."""
    return [
        json.dumps({"type": "input_audio_buffer.append", "audio": base64.b64encode(c).decode()})
        for c in chunks(tone(800) + silence(700), CHUNK_BYTES)
    ]


def typed(text: str) -> str:
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    return json.dumps({"type": "conversation.item.create", "item": item})


def until(ws, kind: str, timeout: float = 30) -> dict:
    while True:
        event = json.loads(ws.recv(timeout=timeout))
        if event["type"] == kind:
            return event


def start_websocket_call(server, alice, target: str) -> tuple[str, str]:
    started = httpx.post(
        f"{server.base_url}/api/v1/session-targets/{target}/start",
        headers={"X-API-Key": alice.secret},
        json={},
        timeout=30,
    )
    assert started.status_code == 201, started.text
    return started.json()["session_id"], server.ws_url + started.json()["ws_url"]


def test_a_python_handler_calls_a_typescript_reasoner_and_a_typescript_handler_a_python_one(
    typescript_sdk, make_caller, alice, simulator, voice_policies
):
    """Both directions over the websocket transport, with a spoken turn each. The TypeScript
    handler answers with ``agent.call``: the session id comes from its context. A dropped
    agent link reconnects and the call goes on. A handler that throws fails the call with
    its message."""
    keys = {
        node: make_caller("agent", node_id=node, name=node).secret
        for node in ("voice-py", "support-ts", "ts-voice", "support")
    }
    env = {**provider(simulator), "AGENTFIELD_TAG_APPROVAL": "auto"}
    with (
        daphne_server("ts-both-ways", **env) as server,
        typescript_node(
            "voice.js", "ts-voice", AGENTFIELD_SERVER=server.base_url,
            SUPPORT_TS_KEY=keys["support-ts"], TS_VOICE_KEY=keys["ts-voice"],
        ) as ts_nodes,
        python_node(
            "voice", "py-voice", AGENTFIELD_SERVER=server.base_url,
            AGENTFIELD_API_KEY=keys["voice-py"],
        ) as py_voice,
        python_node(
            "support", "py-support-2", AGENTFIELD_SERVER=server.base_url,
            AGENTFIELD_API_KEY=keys["support"],
        ) as py_support,
    ):  # fmt: skip
        for process, node in ((ts_nodes, "support-ts"), (ts_nodes, "ts-voice"),
                              (py_voice, "voice-py"), (py_support, "support")):  # fmt: skip
            process.wait_for(f"{node} is ready")

        # Python handler -> TypeScript reasoner
        py_session, url = start_websocket_call(server, alice, "voice-py.voice")
        simulator.script_transcripts(["Where is my order 3150?"])
        with connect(url, additional_headers={"X-API-Key": alice.secret}) as ws:
            until(ws, "agentfield.session.active")
            for event in speech_events():
                ws.send(event)
            heard = until(ws, "response.output_audio_transcript.done")
        assert heard["transcript"] == "TypeScript heard: Where is my order 3150?"

        # TypeScript handler -> Python reasoner (agent.call), twice, then a handler error
        ts_session, url = start_websocket_call(server, alice, "ts-voice.voice")
        simulator.script_transcripts(["Where is my order 1042?"])
        with connect(url, additional_headers={"X-API-Key": alice.secret}) as ws:
            until(ws, "agentfield.session.active")
            for event in speech_events():
                ws.send(event)
            heard = until(ws, "response.output_audio_transcript.done")
            assert heard["transcript"] == "Python heard: Where is my order 1042?"
            ws.send(typed("drop the link"))  # the handler's say waits for the link to be back
            heard = until(ws, "response.output_audio_transcript.done")
            assert heard["transcript"] == "Back on the line."
            ts_nodes.wait_for("agent link for ts-voice is open again")
            ws.send(typed("and 4821"))
            heard = until(ws, "response.output_audio_transcript.done")
            assert heard["transcript"] == "Python heard: and 4821"
            ws.send(typed("please fail now"))
            failed = until(ws, "agentfield.session.failed")
        assert failed["reason"] == "handler error: Error: the handler gave up"
        ts_nodes.wait_for(f"session {ts_session}: the handler failed: Error: the handler gave up")

        # a handler's session.end() hangs up after its last say
        bye_session, url = start_websocket_call(server, alice, "ts-voice.voice")
        with connect(url, additional_headers={"X-API-Key": alice.secret}) as ws:
            until(ws, "agentfield.session.active")
            ws.send(typed("bye"))
            assert until(ws, "response.output_audio_transcript.done")["transcript"] == "Goodbye."
            assert until(ws, "agentfield.session.ended")["reason"] == "the caller said bye"
        assert ts_nodes.terminate() == 0

    [to_ts] = Execution.objects.filter(target_name="support-ts.resolveVoiceTurn")
    assert (to_ts.status, to_ts.session_id) == ("succeeded", py_session)
    assert to_ts.result["sessionId"] == py_session  # ctx.sessionId from X-Session-ID
    assert to_ts.input["turn"]["modality"] == "audio" and to_ts.input["turn"]["audio_ms"] > 0
    to_py = Execution.objects.filter(target_name="support.resolveVoiceTurn").order_by("created_at")
    assert [(e.status, e.session_id) for e in to_py] == [("succeeded", ts_session)] * 2
    session = SessionInstance.objects.get(session_id=ts_session)
    assert session.status == "failed"
    assert SessionInstance.objects.get(session_id=bye_session).end_reason == "the caller said bye"


def test_the_typescript_example_holds_a_conversation_until_the_caller_says_goodbye(
    typescript_sdk, make_caller, alice, simulator, voice_policies
):
    """examples/voice_support_ts as a process: its handler answers every turn (it returns
    after each one) and hangs up when the caller says goodbye."""
    voice_key = make_caller("agent", node_id="voice-support-ts", name="voice-support-ts")
    support_key = make_caller("agent", node_id="support-ts", name="support-ts")
    env = {**provider(simulator), "AGENTFIELD_TAG_APPROVAL": "auto"}
    with (
        daphne_server("ts-example", **env) as server,
        typescript_example(
            "ts-example", AGENTFIELD_SERVER=server.base_url, AGENTFIELD_API_KEY=voice_key.secret,
            SUPPORT_AGENTFIELD_API_KEY=support_key.secret, VOICE_TRANSPORT="websocket",
        ) as example,
    ):  # fmt: skip
        example.wait_for("support-ts is ready")
        example.wait_for("voice-support-ts is ready")
        session_id, url = start_websocket_call(server, alice, "voice-support-ts.voice_websocket")
        simulator.script_transcripts(["Hi, where is my order 1042?"])
        with connect(url, additional_headers={"X-API-Key": alice.secret}) as ws:
            until(ws, "agentfield.session.active")
            for event in speech_events():
                ws.send(event)
            heard = [until(ws, "response.output_audio_transcript.done")["transcript"]]
            ws.send(typed("And order 2077?"))
            heard.append(until(ws, "response.output_audio_transcript.done")["transcript"])
            ws.send(typed("Thanks, goodbye"))
            heard.append(until(ws, "response.output_audio_transcript.done")["transcript"])
            ended = until(ws, "agentfield.session.ended")
        example.wait_for(f"session {session_id} is over")
        assert example.terminate() == 0  # SIGTERM: a clean stop, a last offline heartbeat
    nodes = AgentNode.objects.filter(node_id__in=["voice-support-ts", "support-ts"])
    assert {n.status for n in nodes} == {"offline"}
    assert heard == [
        "Order 1042, noise-cancelling headphones, shipped with UPS and should arrive on Friday.",
        "Order 2077, a standing desk, is being prepared and should ship by next Tuesday.",
        "Thanks for calling. Goodbye!",
    ]
    assert ended["reason"] == "the caller said goodbye"
    calls = Execution.objects.filter(target_name="support-ts.resolveVoiceTurn")
    assert sorted(e.result["orderNumber"] for e in calls) == ["1042", "2077"]
    assert {e.session_id for e in calls} == {session_id}
