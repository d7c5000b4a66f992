"""A node's agent link for tests: a Channels communicator on the link route."""

from __future__ import annotations

from channels.testing import WebsocketCommunicator

from agentfield_site.asgi import application
from tests.sessions_app.helpers import VOICE_NODE


async def open_link(secret: str, node_id: str = VOICE_NODE) -> WebsocketCommunicator:
    """The link of ``node_id``, opened with the agent key ``secret`` (asserted accepted)."""
    communicator = WebsocketCommunicator(
        application, f"/api/v1/nodes/{node_id}/link", headers=[(b"x-api-key", secret.encode())]
    )
    connected, _ = await communicator.connect()
    assert connected
    return communicator
