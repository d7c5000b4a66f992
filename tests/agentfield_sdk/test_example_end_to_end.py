"""The voice support example as a real process against a real control plane.

daphne (tests/servers.py) and a Celery worker run on the test database; the example
(``examples/voice_support/agent.py``) runs as a subprocess with one agent key per node.
"""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from access_app.models import AccessPolicy
from executions_app.models import Execution
from provider_simulator import SAY_PREFIX
from provider_simulator.audio import CHUNK_BYTES, chunks, silence, tone
from sessions_app.models import SessionInstance
from tests.agentfield_sdk.example_process import example_agent
from tests.servers import daphne_server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("worker")]

VOICE_NODE, SUPPORT_NODE = "voice-support-af", "support"
ORDER_1042 = (
    "Order 1042, noise-cancelling headphones, shipped with UPS and should arrive on Friday."
)


@pytest.fixture
def node_keys(make_caller):
    """One agent key per node. The voice node's key carries the voice session's tags: its
    handler's ``session.call`` is a plain execute, checked against the caller's key."""
    voice = make_caller("agent", node_id=VOICE_NODE, name="voice node")
    support = make_caller("agent", node_id=SUPPORT_NODE, name="support node")
    return voice.secret, support.secret


def admin_client(server, admin) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, headers={"X-API-Key": admin.secret}, timeout=30)


def test_the_example_waits_for_tag_approval_then_serves_its_reasoner(admin, node_keys):
    with (
        daphne_server("sdk-approval") as server,
        example_agent(server.base_url, *node_keys, name="example-approval") as example,
        admin_client(server, admin) as api,
    ):
        example.wait_for(f"{SUPPORT_NODE} is waiting for tag approval: support")
        example.wait_for(f"{VOICE_NODE} is waiting for tag approval: pii:limited, support:voice")
        pending = api.get("/api/v1/admin/agents/pending").json()
        assert {a["agent_id"] for a in pending["agents"]} == {VOICE_NODE, SUPPORT_NODE}
        voice = api.get(f"/api/v1/nodes/{VOICE_NODE}").json()
        assert voice["status"] == "pending_approval"
        sessions = {s["name"]: s for s in voice["sessions"]}
        assert sessions["voice"]["handler"] is True
        direct = sessions["voice_direct"]  # model-driven: the model calls the tool
        assert (direct["handler"], direct["media"]) == (False, "direct")
        assert direct["tools"] == [f"{SUPPORT_NODE}.order_status"]
        support = api.get(f"/api/v1/nodes/{SUPPORT_NODE}").json()
        reasoners = {r["id"]: r for r in support["reasoners"]}
        assert reasoners["resolve_voice_turn"]["input_schema"]["required"] == ["turn"]
        assert reasoners["order_status"]["input_schema"]["required"] == ["question"]

        refused = api.post(f"/api/v1/execute/{SUPPORT_NODE}.resolve_voice_turn", json={})
        assert refused.status_code == 503
        for node in (VOICE_NODE, SUPPORT_NODE):
            proposed = next(a for a in pending["agents"] if a["agent_id"] == node)["proposed_tags"]
            approved = api.post(
                f"/api/v1/admin/agents/{node}/approve-tags", json={"approved_tags": proposed}
            )
            assert approved.status_code == 200, approved.text
        example.wait_for(f"{SUPPORT_NODE} is ready")
        example.wait_for(f"{VOICE_NODE} is ready")

        turn = {"text": "Hi, where is my order 1042?", "modality": "text", "audio_ms": 0,
                "turn_id": "turn_test"}  # fmt: skip
        answer = api.post(
            f"/api/v1/execute/{SUPPORT_NODE}.resolve_voice_turn", json={"input": {"turn": turn}}
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["status"] == "succeeded"
        assert body["result"]["spoken_response"] == ORDER_1042
        assert body["result"]["order_status"] == "shipped"

        base_url = api.get(f"/api/v1/nodes/{SUPPORT_NODE}").json()["base_url"]
        assert base_url.startswith("http://127.0.0.1:")
        direct = httpx.post(f"{base_url}/reasoners/resolve_voice_turn", json={"turn": turn})
        assert direct.status_code == 401  # no dispatch token

        assert example.terminate() == 0
        assert f"stopping {VOICE_NODE}, {SUPPORT_NODE}" in example.log()
        assert node_keys[0] not in example.log() and node_keys[1] not in example.log()
        assert api.get(f"/api/v1/nodes/{SUPPORT_NODE}").json()["status"] == "offline"


def speech_events() -> list[str]:
    """800 ms of tone, then the 700 ms of silence that ends the turn, as appends."""
    return [
        json.dumps({"type": "input_audio_buffer.append", "audio": base64.b64encode(c).decode()})
        for c in chunks(tone(800) + silence(700), CHUNK_BYTES)
    ]


def read_until(ws, type: str, timeout: float = 30) -> list[dict]:
    events = []
    while not events or events[-1]["type"] != type:
        events.append(json.loads(ws.recv(timeout=timeout)))
    return events


def read_until_closed(ws, timeout: float = 30) -> list[dict]:
    events = []
    try:
        while True:
            events.append(json.loads(ws.recv(timeout=timeout)))
    except ConnectionClosed:
        return events


GOODBYE = "Thanks for calling. Goodbye!"


def test_a_websocket_voice_call_holds_a_conversation_with_the_examples_handler(
    alice, node_keys, simulator
):
    """Two spoken turns: the handler answers one and returns, the next turn runs it again
    (decision 0019), and it ends the call itself once the caller says goodbye."""
    AccessPolicy.objects.create(
        name="team-a-starts-voice", caller_tags=["team:a"], target_tags=["support:voice"],
        action="allow",
    )  # fmt: skip
    AccessPolicy.objects.create(
        name="voice-calls-support", caller_tags=["support:voice"], target_tags=["support"],
        action="allow",
    )  # fmt: skip
    provider = {"OPENAI_API_KEY": "sk-simulator", "OPENAI_BASE_URL": simulator.base_url}
    with (
        daphne_server("sdk-voice", AGENTFIELD_TAG_APPROVAL="auto", **provider) as server,
        example_agent(
            server.base_url, *node_keys, name="example-voice", VOICE_TRANSPORT="websocket"
        ) as example,
    ):
        example.wait_for(f"{SUPPORT_NODE} is ready")
        example.wait_for(f"{VOICE_NODE} is ready")
        started = httpx.post(
            f"{server.base_url}/api/v1/session-targets/{VOICE_NODE}.voice_websocket/start",
            headers={"X-API-Key": alice.secret},
            json={},
        )
        assert started.status_code == 201, started.text
        session_id, ws_path = started.json()["session_id"], started.json()["ws_url"]
        simulator.script_transcripts(["Hi, where is my order 1042?", "Thanks, goodbye."])

        with connect(server.ws_url + ws_path, additional_headers={"X-API-Key": alice.secret}) as ws:
            while json.loads(ws.recv(timeout=15))["type"] != "agentfield.session.active":
                pass
            for event in speech_events():
                ws.send(event)
            events = read_until(ws, "response.output_audio_transcript.done")
            example.wait_for(f"session {session_id}: the handler returned")
            assert SessionInstance.objects.get(session_id=session_id).is_live
            for event in speech_events():
                ws.send(event)
            events += read_until_closed(ws)  # the handler ends the call after its goodbye
        example.wait_for(f"session {session_id} is over")

    types = [e["type"] for e in events]
    assert "conversation.item.input_audio_transcription.completed" in types
    assert types[-1] == "agentfield.session.ended"

    executions = list(
        Execution.objects.filter(target_name=f"{SUPPORT_NODE}.resolve_voice_turn").order_by(
            "created_at"
        )
    )
    assert [e.status for e in executions] == ["succeeded", "succeeded"]
    assert {e.session_id for e in executions} == {session_id}
    assert executions[0].result["spoken_response"] == ORDER_1042
    assert executions[1].result["intent"] == "goodbye"

    session = SessionInstance.objects.get(session_id=session_id)
    assert (session.status, session.end_reason) == ("ended", "the caller said goodbye")
    user_turns = list(session.events.filter(type="turn.user").order_by("id"))
    assert [t.data["text"] for t in user_turns] == [
        "Hi, where is my order 1042?",
        "Thanks, goodbye.",
    ]
    handler_turn = executions[0].input["turn"]
    assert handler_turn["turn_id"] == user_turns[0].data["turn_id"]
    assert handler_turn["modality"] == "audio" and handler_turn["audio_ms"] > 0
    said = [e.data["text"] for e in session.events.filter(type="handler.say").order_by("id")]
    assert said == [ORDER_1042, GOODBYE]
    calls = session.events.filter(type="tool.call")
    assert [c.data["by"] for c in calls] == ["handler", "handler"]

    spoken = [
        e["response"]["instructions"][len(SAY_PREFIX) :]
        for e in simulator.log()
        if e["type"] == "response.create"
        and str(e.get("response", {}).get("instructions", "")).startswith(SAY_PREFIX)
    ]
    assert spoken == [ORDER_1042, GOODBYE]
    # the caller hears both answers, the goodbye before the handler's end closes the call
    heard = [
        e["transcript"] for e in events if e["type"] == "response.output_audio_transcript.done"
    ]
    assert heard == [ORDER_1042, GOODBYE]
    assert "response.output_audio.delta" in types
    assert executions[0].caller_tags == ["pii:limited", "support:voice"]
