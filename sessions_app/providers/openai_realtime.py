"""OpenAI Realtime (GA) over WebSocket, on the official SDK's ``client.realtime`` connection.

The only module that knows OpenAI's realtime wire protocol. It turns neutral commands into
client events and server events into the neutral events of ``base``. Frames are read raw
(``recv_bytes`` + ``json``) so unknown or beta event types can never break the reader.

One response at a time: a ``response.create`` asked for while a response is active waits and
goes out right after that response's ``response.done`` (the sequencer of openai-agents).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import hashlib
import json
import logging
import re
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from openai import AsyncOpenAI, OpenAIError
from websockets.exceptions import ConnectionClosed, InvalidStatus

from .base import (
    AssistantTranscript,
    AudioOut,
    ProviderClosed,
    ProviderConfig,
    ProviderError,
    ProviderEvent,
    ProviderUnavailable,
    ResponseDone,
    ResponseStarted,
    SpeechStarted,
    SpeechStopped,
    ToolCall,
    ToolSpec,
    UserTranscript,
    tool_arguments_parse,
)

if TYPE_CHECKING:
    from openai.resources.realtime.realtime import AsyncRealtimeConnection

log = logging.getLogger(__name__)

DEFAULT_INSTRUCTIONS = (
    "You are a realtime voice front end for an AgentField session. Use registered tools to route "
    "agent work through the AgentField control plane."
)
DEFAULT_VOICE = "marin"
TRANSCRIPTION_MODEL = "gpt-4o-mini-transcribe"
SAY_PREFIX = "Say exactly the following text, word for word, and nothing else:\n"
PCM_FORMAT = {"type": "audio/pcm", "rate": 24000}
OPEN_TIMEOUT_S = 10.0  # for session.updated after the socket is up
CLOSE_TIMEOUT_S = 2.0  # websockets' closing handshake
MISSING_KEY = "OPENAI_API_KEY is required for provider=openai"

# Errors our own sequencing makes harmless: logged at debug, never surfaced.
_ACTIVE_RESPONSE = "conversation_already_has_active_response"
_QUIET_ERRORS = frozenset({_ACTIVE_RESPONSE, "response_cancel_not_active"})
_AUDIO_DELTAS = frozenset({"response.output_audio.delta", "response.audio.delta"})
_TRANSCRIPT_DELTAS = frozenset(
    {"response.output_audio_transcript.delta", "response.audio_transcript.delta"}
)
_TRANSCRIPT_DONES = frozenset(
    {"response.output_audio_transcript.done", "response.audio_transcript.done"}
)
_SECRET_RE = re.compile(r"sk-[A-Za-z0-9_\-]{6,}")
_MAX_TRACKED_ITEMS = 64


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


def session_payload(config: ProviderConfig) -> dict[str, Any]:
    """The GA ``session`` object sent by ``open()``."""
    tools = [_tool_payload(tool) for tool in config.tools]
    return {
        "type": "realtime",
        "model": config.model,
        "instructions": config.instructions or DEFAULT_INSTRUCTIONS,
        "output_modalities": ["audio"],
        "audio": {
            "input": {
                "format": dict(PCM_FORMAT),
                "transcription": {"model": TRANSCRIPTION_MODEL},
                "turn_detection": _turn_detection(config),
            },
            "output": {"format": dict(PCM_FORMAT), "voice": config.voice or DEFAULT_VOICE},
        },
        "tools": tools,
        "tool_choice": "auto" if tools else "none",
    }


def _tool_payload(tool: ToolSpec) -> dict[str, Any]:
    return {
        "type": "function",
        "name": tool.name,
        "description": tool.description,
        "parameters": tool.parameters,
    }


def _turn_detection(config: ProviderConfig) -> dict[str, Any] | None:
    if config.turn_detection is None:
        return None
    turn_detection = dict(config.turn_detection)
    if not config.auto_respond:
        turn_detection["create_response"] = False
    return turn_detection


def _close_reason(exc: BaseException) -> str:
    if isinstance(exc, ConnectionClosed):
        frame = exc.rcvd
        detail = f"{frame.code} {frame.reason}".strip() if frame else "no close frame"
    else:
        detail = type(exc).__name__
    return f"provider closed the connection ({detail})"


class ResponseSequencer:
    """One response at a time: ``response.create`` waits while a response is active.

    Active means the server reported ``response.created`` without ``response.done`` yet, or we
    sent a ``response.create`` that has neither started a response nor failed. A create that
    loses the race to a server-started (VAD) response fails with ``conversation_already_has_
    active_response``; it is queued again, first, and sent after that response is done.
    """

    def __init__(self) -> None:
        self.server_active = False
        self.awaiting = ""  # event_id of our last create, until response.created or its error
        self.queued: collections.deque[dict[str, Any]] = collections.deque()
        self.recent: dict[str, dict[str, Any]] = {}  # event_id -> payload, to retry on a race

    @property
    def active(self) -> bool:
        return self.server_active or bool(self.awaiting)

    def request(self, response: dict[str, Any]) -> bool:
        """True when the create may go out now; otherwise it is queued."""
        if self.active:
            self.queued.append(response)
            return False
        return True

    def sent(self, event_id: str, response: dict[str, Any]) -> None:
        self.awaiting = event_id
        _remember(self.recent, event_id, response)

    def created(self) -> None:
        self.server_active = True
        self.awaiting = ""

    def done(self) -> dict[str, Any] | None:
        self.server_active = False
        return self._next()

    def failed(self, event_id: str, code: Any) -> dict[str, Any] | None:
        """An error for one of our creates: retry it after a race, else forget it."""
        response = self.recent.pop(event_id, None)
        if response is None:
            return None
        if self.awaiting == event_id:
            self.awaiting = ""
        if code == _ACTIVE_RESPONSE:
            self.server_active = True
            self.queued.appendleft(response)
        return self._next()

    def drop_queued(self) -> None:
        self.queued.clear()
        self.recent.clear()

    def _next(self) -> dict[str, Any] | None:
        return self.queued.popleft() if self.queued and not self.active else None


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
        # item_id -> audio_start_ms, and item_id -> speech duration.
        self._speech_start: dict[str, int] = {}
        self._speech_ms: dict[str, int] = {}

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
            await self._send({"type": "session.update", "session": session_payload(config)})
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

    async def _connect(self, config: ProviderConfig) -> AsyncRealtimeConnection:
        rest_url, ws_url = derive_base_urls(self._base_url)
        ident = safety_identifier(self._safety_identifier or config.session_id)
        try:
            self._client = AsyncOpenAI(
                api_key=self._api_key, base_url=rest_url, websocket_base_url=ws_url
            )
            manager = self._client.realtime.connect(
                model=config.model,
                extra_headers={"OpenAI-Safety-Identifier": ident},
                websocket_connection_options={"close_timeout": CLOSE_TIMEOUT_S},
            )
            self._conn = await manager.enter()
        except Exception as exc:
            await self._release()
            raise self._connect_failure(exc) from None
        return self._conn

    async def _await_session_updated(self, conn: AsyncRealtimeConnection) -> None:
        while True:
            message = _decode(await conn.recv_bytes())
            kind = message.get("type")
            if kind == "session.updated":
                return
            if kind == "error":
                error = message.get("error") or {}
                text = str(error.get("message") or error.get("code") or "error")
                raise ProviderUnavailable(
                    self._failure("session.update failed", text),
                    code=str(error.get("code") or "session_update_failed"),
                    detail=self._scrub(text)[:300],
                )
            self._backlog.extend(self._map(message))

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
                self._final = ProviderClosed(reason="" if self._closing else _close_reason(exc))
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
        try:
            message = _decode(raw)
            await self._track(message)
            return self._map(message)
        except Exception:
            log.warning("OpenAI realtime: could not handle a server event", exc_info=True)
            return []

    async def _track(self, message: dict[str, Any]) -> None:
        """Keep the response sequencer in step with the server; send what it releases."""
        kind = message.get("type")
        released = None
        if kind == "response.created":
            self._responses.created()
        elif kind == "response.done":
            released = self._responses.done()
        elif kind == "error":
            error = message.get("error") or {}
            released = self._responses.failed(str(error.get("event_id") or ""), error.get("code"))
        if released is not None:
            await self._send_response_create(released)

    def _map(self, message: dict[str, Any]) -> list[ProviderEvent]:
        kind = message.get("type", "")
        mapper = _MAPPERS.get(kind)
        if mapper is not None:
            return mapper(self, message)
        if kind in _AUDIO_DELTAS:
            return self._audio(message)
        if kind in _TRANSCRIPT_DELTAS or kind in _TRANSCRIPT_DONES:
            return self._assistant_transcript(message, final=kind in _TRANSCRIPT_DONES)
        return []

    def _speech_started(self, message: dict[str, Any]) -> list[ProviderEvent]:
        item_id = str(message.get("item_id") or "")
        _remember(self._speech_start, item_id, int(message.get("audio_start_ms") or 0))
        return [SpeechStarted()]

    def _speech_stopped(self, message: dict[str, Any]) -> list[ProviderEvent]:
        item_id = str(message.get("item_id") or "")
        start = self._speech_start.pop(item_id, None)
        end = message.get("audio_end_ms")
        audio_ms = max(0, int(end) - start) if start is not None and end is not None else 0
        _remember(self._speech_ms, item_id, audio_ms)
        return [SpeechStopped(audio_ms=audio_ms)]

    def _user_transcript(self, message: dict[str, Any]) -> list[ProviderEvent]:
        item_id = str(message.get("item_id") or "")
        text = str(message.get("transcript") or "")
        return [UserTranscript(text, item_id, self._speech_ms.pop(item_id, 0))]

    def _response_started(self, message: dict[str, Any]) -> list[ProviderEvent]:
        return [ResponseStarted(str((message.get("response") or {}).get("id") or ""))]

    def _response_done(self, message: dict[str, Any]) -> list[ProviderEvent]:
        response = message.get("response") or {}
        status = str(response.get("status") or "completed")
        return [ResponseDone(status=status, response_id=str(response.get("id") or ""))]

    def _audio(self, message: dict[str, Any]) -> list[ProviderEvent]:
        try:
            pcm = base64.b64decode(message.get("delta") or "", validate=True)
        except (binascii.Error, ValueError):
            log.debug("OpenAI realtime: undecodable audio delta dropped")
            return []
        return [AudioOut(pcm, str(message.get("response_id") or ""))] if pcm else []

    def _assistant_transcript(self, message: dict[str, Any], *, final: bool) -> list[ProviderEvent]:
        text = message.get("transcript" if final else "delta") or ""
        return [AssistantTranscript(str(text), final, str(message.get("response_id") or ""))]

    def _output_item_done(self, message: dict[str, Any]) -> list[ProviderEvent]:
        item = message.get("item") or {}
        if item.get("type") != "function_call" or item.get("status") not in (None, "completed"):
            return []
        arguments, error = tool_arguments_parse(item.get("arguments"))
        call_id, name = str(item.get("call_id") or ""), str(item.get("name") or "")
        return [ToolCall(call_id, name, arguments, error)]

    def _error(self, message: dict[str, Any]) -> list[ProviderEvent]:
        error = message.get("error") or {}
        code = str(error.get("code") or error.get("type") or "error")
        text = self._scrub(str(error.get("message") or ""))
        if code in _QUIET_ERRORS:
            log.debug("OpenAI realtime: %s (%s)", code, text)
            return []
        return [ProviderError(code=code, message=text)]

    # Commands --------------------------------------------------------------------------------

    async def send_audio(self, pcm: bytes) -> None:
        """The hot path (every 20 ms of a call): serialised here, not by the SDK's typed
        transform, which costs some 200 us an append."""
        if pcm:
            audio = base64.b64encode(pcm).decode("ascii")
            event = {"type": "input_audio_buffer.append", "audio": audio}
            await self._send(event, raw=True)

    async def commit_audio(self) -> None:
        """End the user's turn by hand (no server VAD)."""
        await self._send({"type": "input_audio_buffer.commit"})

    async def clear_audio(self) -> None:
        await self._send({"type": "input_audio_buffer.clear"})

    async def send_text(self, text: str) -> None:
        """A typed user turn, answered only when ``auto_respond``."""
        content = [{"type": "input_text", "text": text}]
        item = {"type": "message", "role": "user", "content": content}
        await self._send({"type": "conversation.item.create", "item": item})
        if self._config is None or self._config.auto_respond:
            await self._request_response({})

    async def say(self, text: str) -> None:
        """Speak exactly ``text`` (a response with instructions and no tools)."""
        await self._request_response({"instructions": SAY_PREFIX + text, "tool_choice": "none"})

    async def send_tool_result(self, call_id: str, output: str) -> None:
        item = {"type": "function_call_output", "call_id": call_id, "output": output}
        await self._send({"type": "conversation.item.create", "item": item})
        await self._request_response({})

    async def create_response(self) -> None:
        await self._request_response({})

    async def cancel(self) -> None:
        """Stop the active response (if any) and drop queued response requests."""
        active = self._responses.active
        self._responses.drop_queued()
        if active:
            await self._send({"type": "response.cancel"})

    async def update(self, *, instructions: str | None = None, voice: str | None = None) -> None:
        session: dict[str, Any] = {"type": "realtime"}
        if instructions is not None:
            session["instructions"] = instructions
        if voice is not None:
            session["audio"] = {"output": {"voice": voice}}
        if len(session) > 1:
            await self._send({"type": "session.update", "session": session})

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
        event: dict[str, Any] = {"type": "response.create"}
        if response:
            event["response"] = response
        event_id = self._next_event_id()
        self._responses.sent(event_id, response)
        await self._send(event, event_id=event_id)

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


_MAPPERS = {
    "input_audio_buffer.speech_started": OpenAIRealtimeAdapter._speech_started,
    "input_audio_buffer.speech_stopped": OpenAIRealtimeAdapter._speech_stopped,
    "conversation.item.input_audio_transcription.completed": (
        OpenAIRealtimeAdapter._user_transcript
    ),
    "response.created": OpenAIRealtimeAdapter._response_started,
    "response.done": OpenAIRealtimeAdapter._response_done,
    "response.output_item.done": OpenAIRealtimeAdapter._output_item_done,
    "error": OpenAIRealtimeAdapter._error,
}


def _decode(raw: bytes | str) -> dict[str, Any]:
    try:
        message = json.loads(raw)
    except ValueError:
        log.debug("OpenAI realtime: non-JSON frame ignored")
        return {}
    return message if isinstance(message, dict) else {}


def _remember(table: dict[str, Any], key: str, value: Any) -> None:
    table[key] = value
    while len(table) > _MAX_TRACKED_ITEMS:
        del table[next(iter(table))]


async def _quietly(awaitable: Any) -> None:
    if awaitable is None:
        return
    try:
        await awaitable
    except Exception as exc:
        log.debug("OpenAI realtime: ignored error while closing: %r", exc)


def adapter_from_settings() -> OpenAIRealtimeAdapter:
    """An adapter configured from ``settings.OPENAI_API_KEY`` and ``settings.OPENAI_BASE_URL``.

    A missing key is reported by ``open()`` as ``ProviderUnavailable(MISSING_KEY)``; the caller
    may append ``transport=<...>`` to the message.
    """
    from django.conf import settings

    return OpenAIRealtimeAdapter(
        api_key=getattr(settings, "OPENAI_API_KEY", "") or "",
        base_url=getattr(settings, "OPENAI_BASE_URL", "") or "",
    )
