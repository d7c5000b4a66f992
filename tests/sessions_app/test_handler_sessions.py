"""Handler-driven sessions: turns go to the node over its link, and the provider speaks
exactly what the handler says. The provider's own automatic responses are off."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from provider_simulator import SAY_PREFIX
from tests.sessions_app.helpers import VOICE_NODE, session_world, start
from tests.sessions_app.link_client import open_link
from tests.sessions_app.realtime_client import RealtimeClient

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def node_key(make_caller):
    return make_caller("agent", node_id=VOICE_NODE, name="voice agent")


@pytest.fixture
def handler_world(admin, simulator):
    session_world(admin.client(), transport="websocket", handler=True)


async def test_a_spoken_turn_reaches_the_handler_and_its_say_is_spoken_verbatim(
    handler_world, node_key, alice, simulator
):
    link = await open_link(node_key.secret)
    await link.receive_json_from()  # link.ready
    started = (await database_sync_to_async(start)(alice.client())).json()
    sid = started["session_id"]
    client = RealtimeClient(sid, headers=[(b"x-api-key", alice.secret.encode())])
    await client.connect()
    await client.until("agentfield.session.active")
    hello = await link.receive_json_from(timeout=5)
    assert hello["type"] == "session.started" and hello["session_id"] == sid
    assert hello["target"] == f"{VOICE_NODE}.voice"

    simulator.script_transcripts(["where is my order 42"])
    await client.speak()
    turn_message = await link.receive_json_from(timeout=10)
    assert turn_message["type"] == "session.input"
    turn = turn_message["turn"]
    assert (turn["text"], turn["modality"]) == ("where is my order 42", "audio")
    assert turn["audio_ms"] > 0 and turn["turn_id"].startswith("turn_")

    reply = "Your order 42 left our warehouse this morning."
    await link.send_json_to({"type": "session.say", "session_id": sid, "text": reply})
    # a handler that answers once and returns ends right after its say: it is still spoken
    await link.send_json_to({"type": "session.end", "session_id": sid, "reason": "resolved"})
    said = await client.until("response.output_audio_transcript.done")
    assert said["transcript"] == reply
    assert "response.output_audio.delta" in client.types()
    spoken = [e["text"] for e in simulator.log() if e["type"] == "simulator.spoke"]
    assert spoken == [reply]  # nothing but what the handler said
    creates = [e for e in simulator.log() if e["type"] == "response.create"]
    assert creates[-1]["response"]["instructions"] == SAY_PREFIX + reply
    update = next(e for e in simulator.log() if e["type"] == "session.update")
    assert update["session"]["audio"]["input"]["turn_detection"]["create_response"] is False

    ended = await client.until("agentfield.session.ended")
    assert ended["reason"] == "resolved"
    assert await client.closed_code() == 1000
    assert (await link.receive_json_from(timeout=5))["type"] == "session.ended"
    await link.disconnect()


async def test_a_typed_turn_goes_to_the_handler_not_the_model(
    handler_world, node_key, alice, simulator
):
    link = await open_link(node_key.secret)
    await link.receive_json_from()
    sid = (await database_sync_to_async(start)(alice.client())).json()["session_id"]
    client = RealtimeClient(sid, headers=[(b"x-api-key", alice.secret.encode())])
    await client.connect()
    await client.until("agentfield.session.active")
    await link.receive_json_from(timeout=5)  # session.started
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
    await client.send({"type": "conversation.item.create", "item": item})
    turn = (await link.receive_json_from(timeout=5))["turn"]
    assert (turn["text"], turn["modality"], turn["audio_ms"]) == ("hi", "text", 0)
    assert not [e for e in simulator.log() if e["type"] == "conversation.item.create"]
    await link.send_json_to({"type": "session.error", "session_id": sid, "message": "boom"})
    failed = await client.until("agentfield.session.failed")
    assert failed["reason"] == "handler error: boom"
    await link.disconnect()
