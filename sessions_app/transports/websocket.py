"""``WS /api/v1/session-instances/<id>/realtime``: the WebSocket transport.

A handshake that cannot become a call is accepted, told why in an ``error`` event (with
the HTTP status the REST routes would use), and closed with code 4000 + that status:
browsers and most clients cannot read a refused handshake's body. Connects past
``AGENTFIELD_REALTIME_CONNECT_RATE`` are such a refusal: 4429, with ``retry_after``.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from access_app.principals import Principal
from access_app.throttling import REALTIME_CONNECT_SCOPE, principal_identity, rate_take
from sessions_app import selectors
from sessions_app.authentication import session_client_principal
from sessions_app.models import SessionInstance, SessionStatus
from sessions_app.providers import adapter_for
from sessions_app.providers.base import ProviderEvent, ProviderUnavailable
from sessions_app.runtime.session import SessionRuntime
from sessions_app.runtime.sink import Notice
from sessions_app.services.lifecycle import SessionStateError, session_connect, session_finish
from sessions_app.transports.realtime_events import (
    ClientEventError,
    client_command,
    error_event,
    server_event,
)
from sessions_app.ws_frames import FrameRefused, ReleasesOnExit, frame_json

log = logging.getLogger(__name__)
_finish = database_sync_to_async(session_finish)


class Refused(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


@database_sync_to_async
def _open_session(principal: Principal | None, query: bytes, session_id: str) -> SessionInstance:
    secret = (parse_qs(query.decode("latin1")).get("client_secret") or [""])[0]
    if secret:
        principal = session_client_principal(secret)
    if principal is None:
        raise Refused(401, "unauthorized", "invalid or missing API key or client secret")
    wait = rate_take(
        REALTIME_CONNECT_SCOPE,
        principal_identity(principal),
        settings.AGENTFIELD_REALTIME_CONNECT_RATE,
    )
    if wait is not None:
        raise Refused(
            429, "rate_limited", f"too many connects; retry in {wait:.0f} s", retry_after=int(wait)
        )
    session = selectors.session_get_for(principal=principal, session_id=session_id)
    if session is None:
        raise Refused(404, "not_found", "session not found")
    if session.transport != "websocket":
        raise Refused(
            400,
            "wrong_transport",
            f"session {session_id} uses transport={session.transport}; "
            "this route serves transport=websocket",
        )
    try:
        return session_connect(session)
    except SessionStateError as exc:
        raise Refused(exc.status, "session_state", exc.body["error"]) from None


class RealtimeConsumer(ReleasesOnExit, AsyncWebsocketConsumer):
    runtime: SessionRuntime | None = None
    _claimed: SessionInstance | None = None  # connecting, before the runtime holds it

    async def connect(self) -> None:
        session_id = self.scope["url_route"]["kwargs"]["session_id"]
        try:
            session = await _open_session(
                self.scope.get("principal"), self.scope.get("query_string", b""), session_id
            )
        except Refused as refused:
            await self.accept()
            event = error_event(
                refused.code, refused.message, status=refused.status, **refused.extra
            )
            await self._send(event)
            await self.close(code=4000 + refused.status)
            return
        self._claimed = session
        await self.accept()
        try:
            adapter = adapter_for(session.provider)
        except ProviderUnavailable as exc:
            reason = f"provider unavailable: {exc}"
            await _finish(session, status=SessionStatus.FAILED, reason=reason)
            await self._send(error_event("provider_unavailable", reason, status=502))
            await self.close(code=4502)
            return
        self.runtime = SessionRuntime(session, adapter, sink=self)
        await self.runtime.start()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None):
        if self.runtime is None or self.runtime.finished.is_set():
            return
        try:
            event = frame_json(text_data, bytes_data)
        except FrameRefused as refused:
            await self._send(error_event(refused.code, refused.message))
            return
        event_id = event.get("event_id") if isinstance(event, dict) else None
        try:
            command = client_command(event)
        except ClientEventError as exc:
            await self._send(error_event(exc.code, exc.message, event_id=event_id))
            return
        try:
            await getattr(self.runtime, command.name)(**command.args)
        except Exception:  # one message must not end the call
            log.exception("session %s: a client event failed", self.runtime.session_id)
            message = "the event could not be handled; the call goes on"
            await self._send(error_event("internal_error", message, event_id=event_id))

    async def on_exit(self, *, failed: bool) -> None:
        """However the consumer ended (disconnect, exception, cancellation): end the call
        and close its provider connection."""
        status, reason = SessionStatus.ENDED, "client disconnected"
        if failed:
            status, reason = SessionStatus.FAILED, "internal error"
        if self.runtime is not None:
            if not self.runtime.finished.is_set():
                await self.runtime.end(status, reason)
        elif self._claimed is not None:  # claimed, but no runtime was made
            await _finish(self._claimed, status=SessionStatus.FAILED, reason="internal error")

    # --- RuntimeSink ---------------------------------------------------------------------

    async def deliver(self, event: ProviderEvent | Notice) -> None:
        message = server_event(event)
        if message is not None:
            await self._send(message)

    async def flush_playback(self) -> None:
        await self._send({"type": "agentfield.playback.flush"})

    async def playback_drained(self) -> None:
        """The client plays what it received; nothing is held here."""

    async def release(self, status: str, reason: str) -> None:
        await self.close(code=1000 if status == SessionStatus.ENDED else 1011)

    async def _send(self, message: dict) -> None:
        await self.send(text_data=json.dumps(message, default=str))
