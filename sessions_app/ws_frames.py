"""One incoming WebSocket message, checked the same way for every consumer, and the
cleanup every consumer owes however it ends.

Text only, at most ``AGENTFIELD_MAX_WS_MESSAGE_BYTES``, and JSON the REST routes would
also accept (no NUL characters or lone surrogates, finite numbers, bounded nesting). A
refused message is answered with an ``error`` event by the consumer; the connection stays
open.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from foundation.errors import ApiError
from foundation.strict_json import UntrustedJSONError, loads_untrusted

log = logging.getLogger(__name__)


class StrictJsonConsumer(AsyncJsonWebsocketConsumer):
    """Channels' JSON consumer, reading with the strict reader: a refused frame goes to
    ``frame_refused`` (an ``ApiError`` with the event's code and message), the others to
    ``receive_json``. Sends with ``default=str`` (timestamps in events)."""

    @classmethod
    async def decode_json(cls, text_data: str) -> Any:
        limit = settings.AGENTFIELD_MAX_WS_MESSAGE_BYTES
        if len(text_data) > limit or len(text_data.encode()) > limit:
            raise ApiError(413, "frame_too_large", f"a message may be at most {limit} bytes")
        try:
            return loads_untrusted(text_data)
        except UntrustedJSONError as exc:
            raise ApiError(
                400, "invalid_json", f"the frame is not acceptable JSON: {exc}"
            ) from None

    @classmethod
    async def encode_json(cls, content: Any) -> str:
        return json.dumps(content, default=str)

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs
    ):
        try:
            if text_data is None:
                raise ApiError(400, "invalid_event", "events must be JSON text frames, not binary")
            content = await self.decode_json(text_data)
        except ApiError as refused:
            await self.frame_refused(refused)
            return
        await self.receive_json(content, **kwargs)

    async def frame_refused(self, refused: ApiError) -> None:
        raise NotImplementedError


class ReleasesOnExit:
    """Mixin for a Channels consumer: ``on_exit(failed)`` runs however the consumer ends.

    Channels calls ``disconnect`` only when a ``websocket.disconnect`` message is
    dispatched. An exception in ``connect`` or ``receive``, or daphne cancelling the
    application, skips it, and what the consumer holds (a live call's provider socket, an
    agent link's row and heartbeat) would stay behind. ``on_exit`` is shielded from a
    second cancellation, and ``failed`` says whether an exception ended the consumer.
    """

    async def __call__(self, scope, receive, send) -> None:
        failed = False
        try:
            await super().__call__(scope, receive, send)
        except Exception:  # not CancelledError: daphne cancels once the client has gone
            failed = True
            raise
        finally:
            try:
                await asyncio.shield(self.on_exit(failed=failed))
            except Exception:
                log.exception("releasing a WebSocket consumer's resources failed")

    async def on_exit(self, *, failed: bool) -> None:
        raise NotImplementedError
