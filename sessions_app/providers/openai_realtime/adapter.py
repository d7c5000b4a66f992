"""The connection: one OpenAI realtime session over the official SDK's ``client.realtime``.

Frames are read raw (``recv_bytes`` + ``json``) so unknown or beta event types can never
break the reader; what they mean is ``wire``'s business, and when a ``response.create`` may
go out is the ``ResponseSequencer``'s.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import json
import logging
import re
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from openai import AsyncOpenAI, OpenAIError
from websockets.exceptions import ConnectionClosed, InvalidStatus

from sessions_app.providers.base import (
    ProviderClosed,
    ProviderConfig,
    ProviderEvent,
    ProviderUnavailable,
)

from . import wire
from .sequencer import ResponseSequencer

if TYPE_CHECKING:
    from openai.resources.realtime.realtime import AsyncRealtimeConnection

log = logging.getLogger(__name__)

OPEN_TIMEOUT_S = 10.0  # for session.updated after the socket is up
CLOSE_TIMEOUT_S = 2.0  # websockets' closing handshake
MISSING_KEY = "OPENAI_API_KEY is required for provider=openai"
_SECRET_RE = re.compile(r"sk-[A-Za-z0-9_\-]{6,}")


def safety_identifier(session_id: str) -> str:
    """The stable, non-reversible end-user id OpenAI asks for: 32 hex of sha256."""
    return hashlib.sha256(session_id.encode()).hexdigest()[:32]


def derive_base_urls(base_url: str) -> tuple[str | None, str | None]:
    """(REST base_url, websocket_base_url) from one configured URL; ``""`` means SDK defaults."""
    if not base_url:
        return None, None
    scheme, sep, rest = base_url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in {"http", "https", "ws", "wss"}:
        return base_url, None
    secure = scheme in {"https", "wss"}
    return f"{'https' if secure else 'http'}://{rest}", f"{'wss' if secure else 'ws'}://{rest}"


def _close_reason(exc: BaseException) -> str:
    if isinstance(exc, ConnectionClosed):
        frame = exc.rcvd
        detail = f"{frame.code} {frame.reason}".strip() if frame else "no close frame"
    else:
        detail = type(exc).__name__
    return f"provider closed the connection ({detail})"


class OpenAIRealtimeAdapter:
    """One OpenAI realtime session over WebSocket (``ProviderAdapter``).

    Iterate ``events()`` continuously from one task: it drives the response sequencer.
    Commands may be sent from other tasks; after the connection is gone they are no-ops.
    """

    def __init__(self, *, api_key: str, base_url: str = "", safety_identifier: str = "") -> None:
        """``safety_identifier``: a stable end-user id to hash instead of the session id."""
        self._api_key = api_key
        self._base_url = base_url
        self._safety_identifier = safety_identifier
        self._client: AsyncOpenAI | None = None
        self._conn: AsyncRealtimeConnection | None = None
        self._config: ProviderConfig | None = None
        self._counter = 0
        self._closing = False
        self._final: ProviderClosed | None = None
        self._backlog: collections.deque[ProviderEvent] = collections.deque()
        self._responses = ResponseSequencer()
        self._mapper = wire.EventMapper(self._scrub)

    # Opening ---------------------------------------------------------------------------------

    async def open(self, config: ProviderConfig) -> None:
        """Connect, send ``session.update`` and wait for ``session.updated``."""
        if not self._api_key:
            raise ProviderUnavailable(MISSING_KEY)
        if self._closing or self._conn is not None:
            raise ProviderUnavailable("OpenAI realtime adapter is already used")
        self._config = config
        conn = await self._connect(config)
        try:
            await self._send(self._session_update(config))
            async with asyncio.timeout(OPEN_TIMEOUT_S):
                await self._await_session_updated(conn)
        except BaseException as exc:
            await self._release()
            if isinstance(exc, ProviderUnavailable) or not isinstance(exc, Exception):
                raise
            if isinstance(exc, TimeoutError):
                raise ProviderUnavailable(
                    "OpenAI realtime session.update timed out", code="timeout"
                ) from None
            raise ProviderUnavailable(self._failure("connection failed", exc)) from None

    def _session_update(self, config: ProviderConfig) -> dict[str, Any]:
        return wire.session_update(config)

    async def _connect(self, config: ProviderConfig) -> AsyncRealtimeConnection:
        try:
            self._client = self._new_client()
            manager = self._client.realtime.connect(
                model=config.model,
                extra_headers=self._identity_headers(config),
                websocket_connection_options={"close_timeout": CLOSE_TIMEOUT_S},
            )
            self._conn = await manager.enter()
        except Exception as exc:
            await self._release()
            raise self._connect_failure(exc) from None
        return self._conn

    def _new_client(self) -> AsyncOpenAI:
        rest_url, ws_url = derive_base_urls(self._base_url)
        return AsyncOpenAI(api_key=self._api_key, base_url=rest_url, websocket_base_url=ws_url)

    def _identity_headers(self, config: ProviderConfig) -> dict[str, str]:
        ident = safety_identifier(self._safety_identifier or config.session_id)
        return {"OpenAI-Safety-Identifier": ident}

    async def _await_session_updated(self, conn: AsyncRealtimeConnection) -> None:
        """Events that arrive before the confirmation are held for ``events()``."""
        while True:
            message = wire.decode(await conn.recv_bytes())
            if wire.is_session_updated(message):
                return
            error = wire.error_of(message)
            if error is not None:
                text = str(error.get("message") or error.get("code") or "error")
                raise ProviderUnavailable(
                    self._failure("session.update failed", text),
                    code=str(error.get("code") or "session_update_failed"),
                    detail=self._scrub(text)[:300],
                )
            self._backlog.extend(self._mapper.map(message))

    def _connect_failure(self, exc: Exception) -> ProviderUnavailable:
        """The handshake's HTTP status and body when the provider refused it."""
        message = self._failure("connection failed", exc)
        if isinstance(exc, InvalidStatus):
            body = bytes(exc.response.body or b"").decode("utf-8", "replace")
            detail = self._scrub(body.strip() or str(exc))[:300]
            return ProviderUnavailable(message, code=exc.response.status_code, detail=detail)
        detail = self._scrub(f"{type(exc).__name__}: {exc}")[:300]
        return ProviderUnavailable(message, code="connect", detail=detail)

    def _failure(self, what: str, exc: BaseException | str) -> str:
        text = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
        return f"OpenAI realtime {what}: {self._scrub(text)[:300]}"

    def _scrub(self, text: str) -> str:
        if self._api_key:
            text = text.replace(self._api_key, "***")
        return _SECRET_RE.sub("sk-***", text)

    # Events ----------------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[ProviderEvent]:
        """Neutral events until the connection ends; ``ProviderClosed`` is always last.

        Only ``CancelledError`` escapes. Cancelling loses nothing: call ``events()`` again.
        """
        while self._backlog and not self._closing:
            yield self._backlog.popleft()
        while self._final is None:
            conn = self._conn
            if self._closing or conn is None:
                self._final = ProviderClosed(reason="")
                break
            try:
                raw = await conn.recv_bytes()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._final = ProviderClosed(reason="") if self._closing else self._closed(exc)
                log.debug("OpenAI realtime reader ended: %s", self._scrub(repr(exc)))
                break
            for event in await self._handle(raw):
                if self._closing:
                    break
                yield event
        if not self._closing:
            await self._release()
        yield self._final

    async def _handle(self, raw: bytes) -> list[ProviderEvent]:
        """One server event: the sequencer first (sending what it releases), then mapped."""
        try:
            message = wire.decode(raw)
            released = wire.track(self._responses, message)
            if released is not None:
                await self._send_response_create(released)
            return self._mapper.map(message)
        except Exception:
            log.warning("OpenAI realtime: could not handle a server event", exc_info=True)
            return []

    def _closed(self, exc: BaseException) -> ProviderClosed:
        """What the end of the connection, not asked for by us, means."""
        return ProviderClosed(reason=_close_reason(exc))

    # Commands --------------------------------------------------------------------------------

    async def send_audio(self, pcm: bytes) -> None:
        """The hot path (every 20 ms of a call): serialised here, not by the SDK's typed
        transform, which costs some 200 us an append."""
        if pcm:
            await self._send(wire.audio_append(pcm), raw=True)

    async def commit_audio(self) -> None:
        """End the user's turn by hand (no server VAD)."""
        await self._send(wire.audio_commit())

    async def clear_audio(self) -> None:
        await self._send(wire.audio_clear())

    async def send_text(self, text: str) -> None:
        """A typed user turn, answered only when ``auto_respond``."""
        await self._send(wire.user_text(text))
        if self._config is None or self._config.auto_respond:
            await self._request_response({})

    async def say(self, text: str) -> None:
        """Speak exactly ``text`` (a response with instructions and no tools)."""
        await self._request_response(wire.say_response(text))

    async def send_tool_result(self, call_id: str, output: str) -> None:
        await self._send(wire.tool_output(call_id, output))
        await self._request_response({})

    async def create_response(self) -> None:
        await self._request_response({})

    async def cancel(self) -> None:
        """Stop the active response (if any) and drop queued response requests."""
        active = self._responses.active
        self._responses.drop_queued()
        if active:
            await self._send(wire.response_cancel())

    async def update(self, *, instructions: str | None = None, voice: str | None = None) -> None:
        event = wire.session_change(instructions=instructions, voice=voice)
        if event is not None:
            await self._send(event)

    async def close(self) -> None:
        """Idempotent; ends ``events()`` with ``ProviderClosed(reason="")``."""
        if self._closing:
            return
        self._closing = True
        self._responses.drop_queued()
        await self._release()

    # Internals -------------------------------------------------------------------------------

    async def _request_response(self, response: dict[str, Any]) -> None:
        if self._responses.request(response):
            await self._send_response_create(response)

    async def _send_response_create(self, response: dict[str, Any]) -> None:
        event_id = self._next_event_id()
        self._responses.sent(event_id, response)
        await self._send(wire.response_create(response), event_id=event_id)

    async def _send(self, event: dict[str, Any], *, event_id: str = "", raw: bool = False) -> None:
        """Send one client event; a no-op (logged at debug) when the connection is gone.

        ``raw``: the event is plain JSON already (no SDK params to transform)."""
        conn = self._conn
        if conn is None:
            log.debug("OpenAI realtime: %s dropped, not connected", event["type"])
            return
        event["event_id"] = event_id or self._next_event_id()
        try:
            await (conn.send_raw(json.dumps(event)) if raw else conn.send(event))
        except (ConnectionClosed, OSError, OpenAIError) as exc:
            log.debug("OpenAI realtime: %s dropped, connection gone (%r)", event["type"], exc)

    def _next_event_id(self) -> str:
        self._counter += 1
        return f"evt_{self._counter}"

    async def _release(self) -> None:
        conn, client = self._conn, self._client
        self._conn = self._client = None
        await _quietly(conn.close() if conn is not None else None)
        await _quietly(client.close() if client is not None else None)


async def _quietly(awaitable: Any) -> None:
    if awaitable is None:
        return
    try:
        await awaitable
    except Exception as exc:
        log.debug("OpenAI realtime: ignored error while closing: %r", exc)


def settings_options() -> dict[str, str]:
    """The key and base URL from ``settings.OPENAI_API_KEY`` and ``settings.OPENAI_BASE_URL``."""
    from django.conf import settings

    return {
        "api_key": getattr(settings, "OPENAI_API_KEY", "") or "",
        "base_url": getattr(settings, "OPENAI_BASE_URL", "") or "",
    }


def adapter_from_settings() -> OpenAIRealtimeAdapter:
    """An adapter configured from the settings.

    A missing key is reported by ``open()`` as ``ProviderUnavailable(MISSING_KEY)``; the caller
    may append ``transport=<...>`` to the message.
    """
    return OpenAIRealtimeAdapter(**settings_options())
