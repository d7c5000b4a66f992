"""``WS /api/v1/session-instances/<id>/realtime``: the WebSocket transport.

A handshake that cannot become a call is accepted, told why in an ``error`` event (with
the HTTP status the REST routes would use), and closed with code 4000 + that status:
browsers and most clients cannot read a refused handshake's body. Connects past
``AGENTFIELD_REALTIME_CONNECT_RATE`` are such a refusal: 4429, with ``retry_after``.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.conf import settings

from access_app.authentication import credential_from_headers
from access_app.principals import Principal
from access_app.socket_credentials import (
    REVOKED_MESSAGE,
    STARTER_REVOKED_MESSAGE,
    CredentialFollower,
)
from foundation.errors import ApiError
from foundation.throttling import REALTIME_CONNECT_SCOPE, principal_identity, rate_take
from sessions_app import selectors
from sessions_app.authentication import session_client_principal
from sessions_app.models import SessionInstance, SessionStatus, Transport
from sessions_app.providers import adapter_for
from sessions_app.providers.base import ProviderEvent, ProviderUnavailable
from sessions_app.runtime.session import SessionRuntime
from sessions_app.runtime.sink import Notice
from sessions_app.services.lifecycle import session_connect, session_finish
from sessions_app.services.starting import CLIENT_SECRET_PREFIX
from sessions_app.transports.realtime_events import client_command, error_event, server_event
from sessions_app.ws_frames import ReleasesOnExit, StrictJsonConsumer

log = logging.getLogger(__name__)
_finish = database_sync_to_async(session_finish)
# A call that ends for one of these reasons ends as a refused credential: 401, 4401.
_REVOKED_REASONS = (REVOKED_MESSAGE, STARTER_REVOKED_MESSAGE)


# Browsers cannot set headers on a WebSocket: they offer the secret as a subprotocol,
# beside ``realtime`` (OpenAI's browser convention), which is the one echoed back.
SECRET_SUBPROTOCOL = "agentfield-client-secret."
ECHOED_SUBPROTOCOL = "realtime"


def client_secret_of(scope) -> str:
    """A session client secret from ``Authorization: Bearer``, a subprotocol or the URL."""
    headers = {
        name.decode("latin1").lower(): value.decode("latin1") for name, value in scope["headers"]
    }
    credential = credential_from_headers(headers) or ""
    if credential.startswith(CLIENT_SECRET_PREFIX):
        return credential
    for protocol in scope.get("subprotocols") or ():
        if protocol.startswith(SECRET_SUBPROTOCOL):
            return protocol.removeprefix(SECRET_SUBPROTOCOL)
    query = parse_qs(scope.get("query_string", b"").decode("latin1"))
    return (query.get("client_secret") or [""])[0]


def answered_subprotocol(scope) -> str | None:
    """The subprotocol to accept with: never the one carrying the secret."""
    return ECHOED_SUBPROTOCOL if ECHOED_SUBPROTOCOL in (scope.get("subprotocols") or ()) else None


@database_sync_to_async
def _open_session(
    principal: Principal | None, secret: str, session_id: str
) -> tuple[SessionInstance, Principal]:
    if secret:
        principal = session_client_principal(secret)
    if principal is None:
        raise ApiError(401, "unauthorized", "invalid or missing API key or client secret")
    wait = rate_take(
        REALTIME_CONNECT_SCOPE,
        principal_identity(principal),
        settings.AGENTFIELD_REALTIME_CONNECT_RATE,
    )
    if wait is not None:
        raise ApiError(
            429, "rate_limited", f"too many connects; retry in {wait:.0f} s", retry_after=int(wait)
        )
    session = selectors.session_get_for(principal=principal, session_id=session_id)
    if session is None:
        raise ApiError(404, "not_found", "session not found")
    if session.transport != Transport.WEBSOCKET:
        raise ApiError(
            400,
            "wrong_transport",
            f"session {session_id} uses transport={session.transport}; "
            "this route serves transport=websocket",
        )
    try:
        return session_connect(session), principal
    except ApiError as exc:  # the REST routes' body: its "error" is the message
        raise ApiError(exc.status_code, "session_state", exc.error) from None


class RealtimeConsumer(ReleasesOnExit, CredentialFollower, StrictJsonConsumer):
    runtime: SessionRuntime | None = None
    _claimed: SessionInstance | None = None  # connecting, before the runtime holds it
    _release_code: int | None = None

    async def connect(self) -> None:
        session_id = self.scope["url_route"]["kwargs"]["session_id"]
        try:
            session, principal = await _open_session(
                self.scope.get("principal"), client_secret_of(self.scope), session_id
            )
        except ApiError as refused:
            await self.accept(answered_subprotocol(self.scope))
            event = error_event(
                refused.error, refused.message, status=refused.status_code, **refused.extra
            )
            await self._send(event)
            await self.close(code=4000 + refused.status_code)
            return
        self._claimed = session
        await self.accept(answered_subprotocol(self.scope))
        try:
            adapter = adapter_for(session.provider)
        except ProviderUnavailable as exc:
            reason = f"provider unavailable: {exc}"
            await _finish(session, status=SessionStatus.FAILED, reason=reason)
            await self._send(error_event("provider_unavailable", reason, status=502))
            await self.close(code=4502)
            return
        self.runtime = SessionRuntime(session, adapter, sink=self)
        if await self.runtime.start():
            await self.follow_credential(principal)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kw):
        if self.runtime is not None and not self.runtime.finished.is_set():
            await super().receive(text_data, bytes_data, **kw)

    async def frame_refused(self, refused: ApiError) -> None:
        await self._send(error_event(refused.error, refused.message))

    async def receive_json(self, event: Any, **kwargs) -> None:
        event_id = event.get("event_id") if isinstance(event, dict) else None
        try:
            command = client_command(event)
        except ApiError as exc:
            await self._send(error_event(exc.error, exc.message, event_id=event_id))
            return
        try:
            await getattr(self.runtime, command.name)(**command.args)
        except Exception:  # one message must not end the call
            log.exception("session %s: a client event failed", self.runtime.session_id)
            message = "the event could not be handled; the call goes on"
            await self._send(error_event("internal_error", message, event_id=event_id))

    async def credential_revoked_close(self, message: str) -> None:
        if self._release_code == 4401:  # the revocation's session end came first
            return
        self._release_code = 4401
        await self._send(error_event("unauthorized", message, status=401))
        if self.runtime is not None and not self.runtime.finished.is_set():
            await self.runtime.end(SessionStatus.ENDED, message)
        else:
            await self.close(code=4401)

    async def on_exit(self, *, failed: bool) -> None:
        """However the consumer ended (disconnect, exception, cancellation): end the call
        and close its provider connection."""
        await self.stop_following_credential()
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
        code = 1000 if status == SessionStatus.ENDED else 1011
        if reason in _REVOKED_REASONS and self._release_code is None:
            # ended by a revocation in another process before this socket heard of it
            self._release_code = 4401
            await self._send(error_event("unauthorized", reason, status=401))
        await self.close(code=self._release_code or code)

    async def _send(self, message: dict) -> None:
        await self.send_json(message)
