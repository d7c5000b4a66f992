"""The node's session handler, seen from a live call: turns go to it, what it says comes back.

A handler-driven session (the definition names a handler) has the provider transcribe and
speak only: each user turn becomes a ``session.input`` for the node's newest agent link,
and each ``session.say`` from the handler becomes a response that speaks exactly that text.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from sessions_app.models import SessionInstance
from sessions_app.providers.base import ProviderAdapter
from sessions_app.runtime.sink import Notice, RuntimeSink
from sessions_app.services.events import session_event_append
from sessions_app.services.links import link_channel

log = logging.getLogger(__name__)

# A handler that ends its session right after a say must not cut the say off.
SPEECH_DRAIN_SECONDS = 30.0

_append = database_sync_to_async(session_event_append)
_link_channel = database_sync_to_async(link_channel)


class HandlerBridge:
    """Messages to the node's handler, and the handler's says, for one call."""

    def __init__(
        self, session: SessionInstance, adapter: ProviderAdapter, sink: RuntimeSink
    ) -> None:
        self.session = session
        self.adapter = adapter
        self.sink = sink
        self._says_pending = 0
        self._speech_idle = asyncio.Event()
        self._speech_idle.set()

    async def to_node(self, type: str, **fields: Any) -> None:
        """To the node's newest link (one connection, so a turn is never handled twice)."""
        session_id, node_id = self.session.session_id, self.session.node_id
        message = {"type": type, "session_id": session_id, **fields}
        channel = await _link_channel(node_id)
        if channel is None:
            log.warning("session %s: node %s has no link", session_id, node_id)
            if type == "session.input":
                text = f"the session handler of {node_id} is not connected"
                error = {"code": "handler_not_connected", "message": text}
                await self.sink.deliver(Notice("error", error))
            return
        try:
            await get_channel_layer().send(channel, message)
        except Exception:
            log.warning("could not reach node %s", node_id, exc_info=True)

    async def input(self, text: str, modality: str, audio_ms: int, turn_id: str) -> None:
        """A user turn, for the handler to answer."""
        turn = {"text": text, "modality": modality, "audio_ms": audio_ms, "turn_id": turn_id}
        await self.to_node("session.input", turn=turn)

    async def say(self, text: str) -> None:
        """What the handler said: logged, shown to the client, and spoken verbatim."""
        await _append(self.session, "handler.say", {"text": text})
        await self.sink.deliver(Notice("handler.say", {"text": text}))
        self._says_pending += 1
        self._speech_idle.clear()
        await self.adapter.say(text)

    def response_done(self) -> None:
        """A response ended: one say fewer to wait for."""
        self._says_pending = max(0, self._says_pending - 1)
        if not self._says_pending:
            self._speech_idle.set()

    async def drain_speech(self) -> None:
        """Let what the handler said be spoken before its end closes the call."""

        async def drained() -> None:
            await self._speech_idle.wait()
            await self.sink.playback_drained()

        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(drained(), SPEECH_DRAIN_SECONDS)
