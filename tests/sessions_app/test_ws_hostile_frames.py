"""Hostile WebSocket messages on the realtime transport and the agent link: each gets an
``error`` event and the connection stays usable; past daphne's own cap (4x ours) daphne
drops the connection, and the server goes on."""

from __future__ import annotations

import json

import pytest
import websockets
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from agentfield_site.asgi import application
from sessions_app.models import AgentLink, SessionInstance
from tests.servers import daphne_server
from tests.sessions_app.helpers import VOICE_NODE, session_world, start
from tests.sessions_app.realtime_client import RealtimeClient

pytestmark = pytest.mark.django_db(transaction=True)

LIMIT = 4096
NUL_TURN = {
    "type": "conversation.item.create",
    "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "\0"}]},
}
SURROGATE_TURN = {
    "type": "conversation.item.create",
    "item": {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "\ud800"}],
    },
}
HOSTILE = [
    ({"bytes_data": b"\x00\x01binary"}, "invalid_event"),
    ({"text_data": "x" * (LIMIT + 1)}, "frame_too_large"),
    ({"text_data": "\u00e9" * (LIMIT // 2 + 1)}, "frame_too_large"),  # bytes, not characters
    ({"text_data": "{not json"}, "invalid_json"),
    ({"text_data": "[" * 100 + "]" * 100}, "invalid_json"),
    ({"text_data": json.dumps(NUL_TURN)}, "invalid_json"),
    ({"text_data": "NaN"}, "invalid_json"),
    ({"text_data": json.dumps(SURROGATE_TURN)}, "invalid_json"),
    ({"text_data": '{"type": "x", "n": 1e999}'}, "invalid_json"),
    ({"text_data": '{"type": "x", "n": -Infinity}'}, "invalid_json"),
]
REALTIME_ONLY = [
    ({"text_data": "[]"}, "invalid_event"),
    ({"text_data": '{"type": 7}'}, "invalid_event"),
    ({"text_data": '{"type": "made.up"}'}, "unknown_event"),
]
LINK_ONLY = [
    ({"text_data": "[]"}, "unknown_event"),
    ({"text_data": '{"type": "session.hack", "session_id": "x"}'}, "unknown_event"),
]


@pytest.fixture
def small_frames(settings):
    settings.AGENTFIELD_MAX_WS_MESSAGE_BYTES = LIMIT


@pytest.fixture
def ws_session(alice, admin, simulator, small_frames):
    session_world(admin.client(), transport="websocket")
    return start(alice.client()).json()


async def test_the_realtime_socket_answers_each_hostile_message_and_the_call_goes_on(
    ws_session, alice
):
    client = RealtimeClient(
        ws_session["session_id"], headers=[(b"x-api-key", alice.secret.encode())]
    )
    await client.connect()
    await client.until("agentfield.session.active")
    for frame, code in HOSTILE + REALTIME_ONLY:
        await client.communicator.send_to(**frame)
        error = await client.until("error")
        assert error["error"]["code"] == code, (frame, error)
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "ok"}]}
    await client.send({"type": "conversation.item.create", "item": item})
    spoken = await client.until("response.output_audio_transcript.done")
    assert spoken["transcript"] == "You said: ok"
    row = await database_sync_to_async(SessionInstance.objects.get)(
        session_id=ws_session["session_id"]
    )
    assert row.status == "active"
    await client.close()


@pytest.fixture
def link_world(admin, small_frames):
    session_world(admin.client(), transport="websocket", handler=True)


@pytest.fixture
def node_key(make_caller):
    return make_caller("agent", node_id=VOICE_NODE, name="voice agent")


async def test_the_agent_link_answers_each_hostile_message_and_stays_open(link_world, node_key):
    link = WebsocketCommunicator(
        application,
        f"/api/v1/nodes/{VOICE_NODE}/link",
        headers=[(b"x-api-key", node_key.secret.encode())],
    )
    assert (await link.connect())[0]
    assert (await link.receive_json_from())["type"] == "link.ready"
    for frame, code in HOSTILE + LINK_ONLY:
        await link.send_to(**frame)
        error = await link.receive_json_from()
        assert (error["type"], error["code"]) == ("error", code), (frame, error)
    await link.send_json_to({"type": "session.say", "session_id": "sess_nope", "text": "hi"})
    assert (await link.receive_json_from())["code"] == "not_found"
    assert await database_sync_to_async(AgentLink.objects.exists)()
    await link.disconnect()


async def test_through_daphne_a_message_over_our_limit_is_an_error_and_over_daphnes_a_close(
    link_world, node_key, alice
):
    with daphne_server("frames", AGENTFIELD_MAX_WS_MESSAGE_BYTES=str(LIMIT)) as server:
        async with websockets.connect(
            f"{server.ws_url}/api/v1/nodes/{VOICE_NODE}/link",
            additional_headers={"X-API-Key": node_key.secret},
        ) as link:
            assert json.loads(await link.recv(10))["type"] == "link.ready"
            await link.send("x" * (LIMIT * 2))
            assert json.loads(await link.recv(10))["code"] == "frame_too_large"
            response = await database_sync_to_async(start)(alice.client())
            assert response.status_code == 201  # the link is still up
            await link.send("x" * (LIMIT * 5))
            with pytest.raises(websockets.ConnectionClosed):
                while True:  # autobahn drops the connection (no close frame) past its cap
                    await link.recv(10)
        async with websockets.connect(
            f"{server.ws_url}/api/v1/nodes/{VOICE_NODE}/link",
            additional_headers={"X-API-Key": node_key.secret},
        ) as again:
            assert json.loads(await again.recv(10))["type"] == "link.ready"
