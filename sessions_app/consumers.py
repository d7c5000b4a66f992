"""``WS /api/v1/nodes/<node_id>/link``: session handlers on the agent node (API.md §7).

Turns reach the node as ``session.started`` / ``session.input`` / ``session.ended``; the
node answers with ``session.say`` / ``session.end`` / ``session.error``, which go to the
runtime holding the call through the channel layer, whatever process that is. A turn-based
session has no runtime: what the node sends is written to the database first (the waiting
turn re-reads it), and the channel message is only a hint.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from access_app.selectors import principal_still_acts_as
from access_app.socket_credentials import CredentialFollower
from foundation.errors import ApiError
from sessions_app.hints import session_group
from sessions_app.models import Transport
from sessions_app.services.links import (
    link_close,
    link_node_for,
    link_open,
    link_session,
    link_touch,
)
from sessions_app.services.turn_handler import handler_message_record
from sessions_app.ws_frames import ReleasesOnExit, StrictJsonConsumer

log = logging.getLogger(__name__)
LINK_HEARTBEAT_SECONDS = 15.0
FROM_NODE = {"session.say", "session.end", "session.error"}


class AgentLinkConsumer(ReleasesOnExit, CredentialFollower, StrictJsonConsumer):
    node = None
    _beat: asyncio.Task | None = None

    async def connect(self) -> None:
        node_id = self.scope["url_route"]["kwargs"]["node_id"]
        self.node = await database_sync_to_async(link_node_for)(
            self.scope.get("principal"), node_id
        )
        await self.accept()
        if self.node is None:
            await self._error("forbidden", f"this key may not act as node {node_id}")
            await self.close(code=4403)
            return
        await database_sync_to_async(link_open)(self.node, self.channel_name)
        self._beat = asyncio.create_task(self._heartbeat())
        await self.send_json({"type": "link.ready", "node_id": node_id})
        await self.follow_credential(self.scope.get("principal"))

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(LINK_HEARTBEAT_SECONDS)
            await database_sync_to_async(link_touch)(self.node, self.channel_name)

    async def credential_revoked_close(self, message: str) -> None:
        await self._error("unauthorized", message)
        await self.close(code=4401)

    async def credential_binding_changed(self) -> None:
        """A key an admin bound to the node superseded this key's claim: close now."""
        if self.node is not None:
            await self._still_the_node()

    async def on_exit(self, *, failed: bool) -> None:
        """However the link ended: stop following its key and its heartbeat and drop its
        row, so no turn is sent to a channel nobody reads."""
        await self.stop_following_credential()
        if self._beat is not None:
            self._beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._beat
        if self.node is not None:
            await database_sync_to_async(link_close)(self.node, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kw):
        if self.node is not None:
            await super().receive(text_data, bytes_data, **kw)

    async def frame_refused(self, refused: ApiError) -> None:
        await self._error(refused.error, refused.message)

    async def receive_json(self, content: Any, **kwargs) -> None:
        try:
            await self._from_node(content)
        except Exception:  # one message must not drop the link
            log.exception("node %s: a link message failed", self.node.node_id)
            await self._error("internal_error", "the message could not be handled")

    async def _error(self, code: str, message: str, **extra: Any) -> None:
        await self.send_json({"type": "error", "code": code, "message": message, **extra})

    async def _still_the_node(self) -> bool:
        """The key may have lost the node since the link opened (revoked, or its claim
        superseded): then the link closes before it hears or says anything more."""
        node_id = self.node.node_id
        if await database_sync_to_async(principal_still_acts_as)(self.scope["principal"], node_id):
            return True
        await self._error("forbidden", f"this key may no longer act as node {node_id}")
        await self.close(code=4403)
        return False

    async def _from_node(self, content: Any) -> None:
        if not await self._still_the_node():
            return
        if not isinstance(content, dict) or content.get("type") not in FROM_NODE:
            expected = ", ".join(sorted(FROM_NODE))
            await self._error("unknown_event", f"expected one of {expected}")
            return
        session_id = str(content.get("session_id") or "")
        session = await database_sync_to_async(link_session)(self.node, session_id)
        if session is None:
            await self._error("not_found", "no live session with this id", session_id=session_id)
            return
        message = {"type": content["type"], "session_id": session_id}
        for field in ("text", "reason", "message"):
            if isinstance(content.get(field), str):
                message[field] = content[field][:10_000]
        if session.transport == Transport.AUDIO_TURNS:  # no runtime: the database first
            await database_sync_to_async(handler_message_record)(session, message)
        await get_channel_layer().group_send(session_group(session_id), message)

    # --- from the runtime ----------------------------------------------------------------

    async def session_started(self, message: dict) -> None:
        if await self._still_the_node():
            await self.send_json(message)

    async def session_input(self, message: dict) -> None:
        if await self._still_the_node():
            await self.send_json(message)

    async def session_ended(self, message: dict) -> None:
        if await self._still_the_node():
            await self.send_json(message)
