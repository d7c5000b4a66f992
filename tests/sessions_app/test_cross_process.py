"""The runtime and the agent link in two different daphne processes (PostgreSQL + Redis):
turns and says cross between them over the channel layer."""

from __future__ import annotations

import json

import pytest
import websockets
from channels.db import database_sync_to_async
from django.conf import settings

from tests.servers import daphne_server
from tests.sessions_app.helpers import VOICE_NODE, session_world, start
from tests.sessions_app.realtime_client import speech_chunks

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not settings.REDIS_URL, reason="the in-memory channel layer lives in one process"
    ),
]


@pytest.fixture
def node_key(make_caller):
    return make_caller("agent", node_id=VOICE_NODE, name="voice agent")


@pytest.fixture
def two_daphnes(simulator):
    env = {"OPENAI_API_KEY": "sk-simulator", "OPENAI_BASE_URL": simulator.base_url}
    with daphne_server("a", **env) as a, daphne_server("b", **env) as b:
        yield a, b


async def receive(socket, type: str, timeout: float = 15) -> dict:
    while True:
        message = json.loads(await socket.recv(timeout))
        if message["type"] == type:
            return message


@pytest.fixture
def handler_session(admin, alice, simulator):
    session_world(admin.client(), transport="websocket", handler=True)


async def test_a_turn_crosses_from_the_call_process_to_the_link_process_and_back(
    handler_session, two_daphnes, node_key, alice, simulator
):
    call_process, link_process = two_daphnes
    link = await websockets.connect(
        f"{link_process.ws_url}/api/v1/nodes/{VOICE_NODE}/link",
        additional_headers={"X-API-Key": node_key.secret},
    )
    await receive(link, "link.ready")
    sid = (await database_sync_to_async(start)(alice.client())).json()["session_id"]
    call = await websockets.connect(
        f"{call_process.ws_url}/api/v1/session-instances/{sid}/realtime",
        additional_headers={"X-API-Key": alice.secret},
    )
    await receive(call, "agentfield.session.active")
    assert (await receive(link, "session.started"))["session_id"] == sid
    simulator.script_transcripts(["is my parcel on its way"])
    for chunk in speech_chunks():
        await call.send(json.dumps({"type": "input_audio_buffer.append", "audio": chunk}))
    turn = (await receive(link, "session.input"))["turn"]
    assert turn["text"] == "is my parcel on its way"
    reply = "Yes, it is with the courier."
    await link.send(json.dumps({"type": "session.say", "session_id": sid, "text": reply}))
    said = await receive(call, "response.output_audio_transcript.done")
    assert said["transcript"] == reply
    await call.close()
    assert (await receive(link, "session.ended"))["session_id"] == sid
    await link.close()
