"""The agent link from a test: a Channels communicator on ``/api/v1/nodes/<id>/link``."""

from __future__ import annotations

from channels.testing import WebsocketCommunicator

from agentfield_site.asgi import application
from tests.sessions_app.helpers import VOICE_NODE


async def open_link(secret: str, node_id: str = VOICE_NODE) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(
        application, f"/api/v1/nodes/{node_id}/link", headers=[(b"x-api-key", secret.encode())]
    )
    connected, _ = await communicator.connect()
    assert connected
    return communicator
