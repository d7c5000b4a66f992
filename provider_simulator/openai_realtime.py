"""The OpenAI Realtime (GA) WebSocket protocol, simulated deterministically, one state machine
per connection.

Only the subset our adapter uses is implemented; see ``provider_simulator/server.py`` for
the transport and control endpoints. Transport-agnostic: a connection is given a coroutine that
sends one text frame and a callable that drops the TCP connection.

Behaviour worth knowing:

- Server VAD is energy based over 20 ms frames (see ``audio.EnergyVad``), in audio time.
- A user turn's transcript comes from the scripted FIFO, else ``speech of N milliseconds``.
- A response speaks (SAY prefix, tool result, or ``You said: ...``) or calls a tool.
- Faults ``next_turn`` / ``next_response`` replace the turn or response they hit: the turn is
  discarded (no ``committed``) or the response never starts (no ``response.created``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import copy
import itertools
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from provider_simulator import audio

logger = logging.getLogger(__name__)

SAY_PREFIX = "Say exactly the following text, word for word, and nothing else:\n"
DEFAULT_MODEL = "gpt-realtime"
DEFAULT_VOICE = "marin"
DEFAULT_INSTRUCTIONS = "You are a helpful, concise voice assistant."
NO_USER_TURN_REPLY = "Hello from the provider simulator."
FAULT_KINDS = ("error", "drop")
FAULT_WHENS = ("now", "next_response", "next_turn")
# The turn-based (HTTP) protocol's faults, applied by ``openrouter_audio``: an error status,
# an error event in the middle of the stream, or the stream cut in the middle.
HTTP_FAULT_KINDS = ("http_error", "stream_error", "cut")
HTTP_FAULT_WHENS = ("next_request", "next_transcription")
PCM_FORMAT = {"type": "audio/pcm", "rate": audio.SAMPLE_RATE}
SERVER_VAD_DEFAULTS: dict[str, Any] = {
    "type": "server_vad",
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 500,
    "idle_timeout_ms": None,
    "create_response": True,
    "interrupt_response": True,
}
SEMANTIC_VAD_DEFAULTS: dict[str, Any] = {
    "type": "semantic_vad",
    "eagerness": "auto",
    "create_response": True,
    "interrupt_response": True,
}
# semantic_vad is simulated with the energy VAD; eagerness only sets the silence needed.
EAGERNESS_SILENCE_MS = {"low": 1000, "medium": 500, "auto": 500, "high": 300}
IDLE_PADDING_MS = 200  # audio kept beyond prefix_padding_ms while nobody speaks


def default_session(model: str, session_id: str) -> dict[str, Any]:
    """The session object sent in ``session.created``."""
    return {
        "type": "realtime",
        "object": "realtime.session",
        "id": session_id,
        "model": model,
        "output_modalities": ["audio"],
        "instructions": DEFAULT_INSTRUCTIONS,
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "tracing": None,
        "truncation": "auto",
        "prompt": None,
        "include": None,
        "expires_at": int(time.time()) + 3600,
        "audio": {
            "input": {
                "format": dict(PCM_FORMAT),
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": dict(SERVER_VAD_DEFAULTS),
            },
            "output": {"format": dict(PCM_FORMAT), "voice": DEFAULT_VOICE, "speed": 1.0},
        },
    }


def merge_session(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge ``patch`` into a copy of ``base``; lists, nulls and turn_detection replace."""
    merged = copy.deepcopy(base)
    for key, value in patch.items():
        if key == "turn_detection":
            merged[key] = normalize_turn_detection(value)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_session(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def normalize_turn_detection(value: Any) -> dict[str, Any] | None:
    """Fill defaults for a turn_detection object; ``None`` (manual turns) stays ``None``."""
    if not isinstance(value, dict):
        return None
    defaults = SEMANTIC_VAD_DEFAULTS if value.get("type") == "semantic_vad" else SERVER_VAD_DEFAULTS
    return {**defaults, **value}


def mentions(transcript: str, tool_name: str) -> bool:
    """Whether a transcript names a tool, as-is or with underscores read as spaces."""
    text, name = transcript.lower(), tool_name.lower()
    return bool(name) and (name in text or name.replace("_", " ") in text)


def tool_arguments(tool: dict[str, Any], transcript: str) -> dict[str, Any]:
    """Arguments for a call: the transcript in the first required (else first) string property."""
    schema = tool.get("parameters") if isinstance(tool.get("parameters"), dict) else {}
    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    strings = [
        name
        for name, spec in properties.items()
        if isinstance(spec, dict) and spec.get("type") == "string"
    ]
    required = schema.get("required") if isinstance(schema.get("required"), list) else []
    for name in [*(r for r in required if r in strings), *strings]:
        return {name: transcript}
    return {"text": transcript}


def reply_for_tool_output(output: str) -> str:
    """What to say after a function result: its ``spoken_response``, else a summary."""
    try:
        parsed = json.loads(output)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("spoken_response"), str):
        return parsed["spoken_response"]
    return f"The tool returned: {output[:200]}"


def loggable(event: dict[str, Any]) -> dict[str, Any]:
    """A client event for the log: an append's audio is replaced by its byte length."""
    entry = dict(event)
    if entry.get("type") == "input_audio_buffer.append" and "audio" in entry:
        raw = entry.pop("audio")
        try:
            entry["audio_bytes"] = len(base64.b64decode(raw, validate=True))
        except (TypeError, ValueError, binascii.Error):
            entry["audio_bytes"] = -1
    return entry


@dataclass
class Fault:
    kind: str
    when: str
    status: int = 0  # HTTP faults: the status (http_error) or the error code (stream_error)
    message: str = ""


class SimulatorState:
    """What all connections share: scripts, pending faults, pace, the log, live connections.

    Not thread-safe: use it on the simulator's event loop only.
    """

    def __init__(self, pace: float = 0.0) -> None:
        self.default_pace = float(pace)
        self.pace = float(pace)
        self.transcripts: deque[str] = deque()
        self.tool_arguments: deque[dict[str, Any]] = deque()
        self.faults: list[Fault] = []
        self.events: list[dict[str, Any]] = []
        # sha256 of an uploaded clip -> its transcript: one clip, one transcript, whichever
        # endpoint hears it first (speech to text and the chat model run side by side).
        self.heard: dict[str, str] = {}
        self.connections: dict[int, RealtimeConnection] = {}
        self.generation = 0  # one per reset: a connection's close is logged in its own
        self._ids = itertools.count(1)
        self._connection_ids = itertools.count(1)

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):016x}"

    def register(self, connection: RealtimeConnection) -> int:
        index = next(self._connection_ids)
        self.connections[index] = connection
        return index

    def unregister(self, index: int) -> None:
        self.connections.pop(index, None)

    def record(self, connection: int, entry: dict[str, Any]) -> None:
        """Log an entry; ``t`` (monotonic seconds, this process) lets benchmarks time gaps."""
        self.events.append({"connection": connection, "t": time.monotonic(), **entry})

    def log(self) -> list[dict[str, Any]]:
        return copy.deepcopy(self.events)

    def script_transcripts(self, transcripts: list[str]) -> None:
        if not all(isinstance(t, str) for t in transcripts):
            raise ValueError("transcripts must be strings")
        self.transcripts.extend(transcripts)

    def script_tool_arguments(self, arguments: dict[str, Any]) -> None:
        if not isinstance(arguments, dict):
            raise ValueError("arguments must be a JSON object")
        self.tool_arguments.append(copy.deepcopy(arguments))

    def set_pace(self, pace: float) -> None:
        pace = float(pace)
        if not pace >= 0:
            raise ValueError("pace must be a number >= 0")
        self.pace = pace

    def next_transcript(self, default: str) -> str:
        return self.transcripts.popleft() if self.transcripts else default

    def transcript_for(self, clip_key: str, default: str) -> str:
        if clip_key not in self.heard:
            self.heard[clip_key] = self.next_transcript(default)
        return self.heard[clip_key]

    def add_fault(self, kind: str, when: str, status: int = 0, message: str = "") -> None:
        validate_fault(kind, when)
        self.faults.append(Fault(kind, when, status, message))

    def pop_fault(self, when: str) -> Fault | None:
        """Consume the first pending fault for ``when``."""
        for i, fault in enumerate(self.faults):
            if fault.when == when:
                return self.faults.pop(i)
        return None

    def take_fault(self, when: str) -> str | None:
        """Consume the first pending fault for ``when``; return its kind."""
        fault = self.pop_fault(when)
        return fault.kind if fault else None

    async def inject_fault(self, kind: str, when: str, status: int = 0, message: str = "") -> int:
        """Apply ``now`` to every live connection (returns how many); else queue it once."""
        validate_fault(kind, when)
        if when != "now":
            self.add_fault(kind, when, status, message)
            return 0
        live = list(self.connections.values())
        for connection in live:
            await connection.apply_fault(kind)
        return len(live)

    def reset(self) -> None:
        """Clear scripts, faults and the log; pace returns to its starting value."""
        self.transcripts.clear()
        self.tool_arguments.clear()
        self.faults.clear()
        self.events.clear()
        self.heard.clear()
        self.pace = self.default_pace
        self.generation += 1


def validate_fault(kind: str, when: str) -> None:
    if kind in HTTP_FAULT_KINDS:
        whens = HTTP_FAULT_WHENS if kind == "http_error" else HTTP_FAULT_WHENS[:1]
        if when not in whens:
            raise ValueError(f"fault {kind} takes when {' or '.join(whens)}")
        return
    if kind not in FAULT_KINDS:
        kinds = ", ".join(FAULT_KINDS + HTTP_FAULT_KINDS)
        raise ValueError(f"fault kind must be one of {kinds}")
    if when not in FAULT_WHENS:
        raise ValueError(f"fault when must be one of {', '.join(FAULT_WHENS)}")


@dataclass
class Turn:
    """One conversation item, reduced to what response planning needs."""

    id: str
    kind: str  # user | assistant | function_call | function_call_output | other
    text: str = ""
    call_id: str = ""
    called: bool = False  # for a user turn: it already produced a function call


@dataclass
class ActiveResponse:
    id: str
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    reason: str = ""
    output: list[dict[str, Any]] = field(default_factory=list)
    task: asyncio.Task[None] | None = None


class ClientEventError(Exception):
    """A client event is invalid: reported as an ``error`` event, the socket stays open."""

    def __init__(self, message: str, *, code: str = "invalid_request_error", param: str = ""):
        super().__init__(message)
        self.code = code
        self.param = param


SendText = Callable[[str], Awaitable[None]]


class RealtimeConnection:
    """One simulated realtime session on one WebSocket."""

    def __init__(
        self,
        state: SimulatorState,
        send_text: SendText,
        abort: Callable[[], None],
        model: str = DEFAULT_MODEL,
    ) -> None:
        self.state = state
        self._send_text = send_text
        self._abort = abort
        self._send_lock = asyncio.Lock()
        self.index = state.register(self)
        self.generation = state.generation
        self.session = default_session(model or DEFAULT_MODEL, state.new_id("sess"))
        self.closed = False
        self.turns: list[Turn] = []
        self.response: ActiveResponse | None = None
        self.vad = audio.EnergyVad()
        self._configure_vad()
        self.buffer = bytearray()
        self.buffer_start = 0  # absolute byte offset of buffer[0] in this connection's audio
        self.audio_bytes = 0  # all audio appended so far
        self.speech_item_id: str | None = None
        state.record(self.index, {"type": "simulator.connected", "model": self.session["model"]})

    # Plumbing ----------------------------------------------------------------------------

    async def send(self, event: dict[str, Any]) -> None:
        """Send one server event (adds ``event_id``); a no-op once the connection is gone."""
        if self.closed:
            return
        payload = json.dumps({"event_id": self.state.new_id("event"), **event})
        async with self._send_lock:
            if self.closed:
                return
            try:
                await self._send_text(payload)
            except (ConnectionError, RuntimeError):  # the peer went away mid-send
                self.closed = True

    async def send_error(
        self,
        message: str,
        *,
        code: str,
        type_: str = "invalid_request_error",
        param: str | None = None,
        event_id: str | None = None,
    ) -> None:
        error = {
            "type": type_,
            "code": code,
            "message": message,
            "param": param,
            "event_id": event_id,
        }
        await self.send({"type": "error", "error": error})

    async def open(self) -> None:
        await self.send({"type": "session.created", "session": copy.deepcopy(self.session)})

    async def close(self) -> None:
        """Forget the connection; stop any response without sending more."""
        self.closed = True
        if self.index in self.state.connections and self.generation == self.state.generation:
            self.state.record(self.index, {"type": "simulator.disconnected"})  # once
        self.state.unregister(self.index)
        response, self.response = self.response, None
        if response and response.task and not response.task.done():
            response.task.cancel()

    async def apply_fault(self, kind: str) -> None:
        self.state.record(self.index, {"type": "simulator.fault", "kind": kind})
        if kind == "error":
            await self.send_error(
                "simulated provider error", code="simulated_error", type_="server_error"
            )
            return
        self._abort()
        await self.close()

    async def handle(self, raw: str) -> None:
        """Handle one client text frame. Never raises: problems become ``error`` events."""
        event_id = None
        try:
            event = self._parse(raw)
            event_id = event.get("event_id") if isinstance(event.get("event_id"), str) else None
            handler = self._HANDLERS.get(event["type"])
            if handler is None:
                raise ClientEventError(
                    f"Invalid value: '{event['type']}'. Unknown client event type.",
                    code="unknown_event",
                    param="type",
                )
            await handler(self, event)
        except ClientEventError as exc:
            await self.send_error(
                str(exc), code=exc.code, param=exc.param or None, event_id=event_id
            )
        except Exception as exc:  # one bad event must not kill the connection
            logger.exception("provider simulator: failed to handle a client event")
            await self.send_error(
                f"simulator internal error: {exc}",
                code="simulator_error",
                type_="server_error",
                event_id=event_id,
            )

    def _parse(self, raw: str) -> dict[str, Any]:
        try:
            event = json.loads(raw)
        except ValueError as exc:
            self.state.record(self.index, {"type": "simulator.invalid_json", "raw": raw[:200]})
            raise ClientEventError(f"Invalid JSON: {exc}", code="invalid_json") from exc
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            self.state.record(self.index, {"type": "simulator.invalid_event", "raw": raw[:200]})
            raise ClientEventError(
                "Missing required parameter: 'type'.",
                code="missing_required_parameter",
                param="type",
            )
        self.state.record(self.index, loggable(event))
        return event

    # Session -----------------------------------------------------------------------------

    @property
    def turn_detection(self) -> dict[str, Any] | None:
        audio_config = self.session.get("audio")
        inputs = audio_config.get("input") if isinstance(audio_config, dict) else None
        value = inputs.get("turn_detection") if isinstance(inputs, dict) else None
        return value if isinstance(value, dict) else None

    def _configure_vad(self) -> None:
        td = self.turn_detection or {}
        silence = td.get("silence_duration_ms")
        if td.get("type") == "semantic_vad":
            silence = EAGERNESS_SILENCE_MS.get(str(td.get("eagerness")), 500)
        threshold = td.get("threshold", 0.5)
        self.vad.configure(
            threshold if isinstance(threshold, int | float) else 0.5,
            silence if isinstance(silence, int) and silence > 0 else 500,
        )

    async def _on_session_update(self, event: dict[str, Any]) -> None:
        patch = event.get("session")
        if not isinstance(patch, dict):
            raise ClientEventError("Missing required parameter: 'session'.", param="session")
        if patch.get("type") != "realtime":
            raise ClientEventError(
                "Missing or invalid parameter: 'session.type' must be 'realtime'.",
                param="session.type",
            )
        if "tools" in patch and not isinstance(patch["tools"], list):
            raise ClientEventError(
                "Invalid type for 'session.tools': expected an array.", param="session.tools"
            )
        merged = merge_session(self.session, patch)
        merged["id"], merged["object"] = self.session["id"], self.session["object"]
        self.session = merged
        self._configure_vad()
        if self.turn_detection is None:
            self.vad.reset_speech()
            self.speech_item_id = None
        await self.send({"type": "session.updated", "session": copy.deepcopy(self.session)})

    # Input audio -------------------------------------------------------------------------

    async def _on_append(self, event: dict[str, Any]) -> None:
        raw = event.get("audio")
        if not isinstance(raw, str):
            raise ClientEventError("Missing required parameter: 'audio'.", param="audio")
        try:
            pcm = base64.b64decode(raw, validate=True)
        except (ValueError, binascii.Error) as exc:
            raise ClientEventError("Invalid 'audio': not base64.", param="audio") from exc
        self.buffer += pcm
        self.audio_bytes += len(pcm)
        events = self.vad.feed(pcm)
        td = self.turn_detection
        if td is None:
            self.vad.reset_speech()
            return
        for vad_event in events:
            if vad_event.kind == "start":
                await self._speech_started(vad_event.at_ms, td)
            else:
                await self._speech_stopped(vad_event.at_ms, td)
        if not self.vad.speaking:
            keep_ms = int(td.get("prefix_padding_ms") or 0) + IDLE_PADDING_MS
            self._trim_buffer(self.audio_bytes - keep_ms * audio.BYTES_PER_MS)

    def _trim_buffer(self, keep_from: int) -> None:
        """Drop buffered audio before absolute byte offset ``keep_from``."""
        keep_from -= keep_from % 2
        if keep_from > self.buffer_start:
            del self.buffer[: keep_from - self.buffer_start]
            self.buffer_start = keep_from

    def _take_buffer(self, end: int) -> bytes:
        """Remove and return buffered audio up to absolute byte offset ``end``."""
        count = max(0, end - self.buffer_start)
        pcm = bytes(self.buffer[:count])
        del self.buffer[:count]
        self.buffer_start += len(pcm)
        return pcm

    async def _speech_started(self, at_ms: int, td: dict[str, Any]) -> None:
        self.speech_item_id = self.state.new_id("item")
        padding_ms = int(td.get("prefix_padding_ms") or 0)
        self._trim_buffer(max(0, at_ms - padding_ms) * audio.BYTES_PER_MS)
        await self.send(
            {
                "type": "input_audio_buffer.speech_started",
                "audio_start_ms": at_ms,
                "item_id": self.speech_item_id,
            }
        )
        if td.get("interrupt_response", True) and self.response is not None:
            await self.cancel_response("turn_detected")

    async def _speech_stopped(self, at_ms: int, td: dict[str, Any]) -> None:
        item_id = self.speech_item_id or self.state.new_id("item")
        self.speech_item_id = None
        await self.send(
            {"type": "input_audio_buffer.speech_stopped", "audio_end_ms": at_ms, "item_id": item_id}
        )
        pcm = self._take_buffer(at_ms * audio.BYTES_PER_MS)
        await self._commit_audio_turn(pcm, item_id, respond=bool(td.get("create_response", True)))

    async def _on_commit(self, event: dict[str, Any]) -> None:
        if not self.buffer:
            raise ClientEventError(
                "Error committing input audio buffer: the buffer is empty.",
                code="input_audio_buffer_commit_empty",
            )
        item_id = self.speech_item_id or self.state.new_id("item")
        self.speech_item_id = None
        self.vad.reset_speech()
        pcm = self._take_buffer(self.audio_bytes)
        td = self.turn_detection
        await self._commit_audio_turn(pcm, item_id, respond=bool(td and td.get("create_response")))

    async def _on_clear(self, event: dict[str, Any]) -> None:
        self._take_buffer(self.audio_bytes)
        self.vad.reset_speech()
        self.speech_item_id = None
        await self.send({"type": "input_audio_buffer.cleared"})

    async def _commit_audio_turn(self, pcm: bytes, item_id: str, *, respond: bool) -> None:
        """committed, item added/done, transcription; then maybe the automatic response."""
        fault = self.state.take_fault("next_turn")
        if fault:
            await self.apply_fault(fault)
            return
        previous = self.turns[-1].id if self.turns else None
        await self.send(
            {
                "type": "input_audio_buffer.committed",
                "item_id": item_id,
                "previous_item_id": previous,
            }
        )
        ms = audio.duration_ms(pcm)
        transcript = self.state.next_transcript(f"speech of {ms} milliseconds")
        self.turns.append(Turn(item_id, "user", transcript))
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "role": "user",
            "status": "completed",
            "content": [{"type": "input_audio", "transcript": None}],
        }
        await self._item_added(item, previous)
        await self.send(
            {
                "type": "conversation.item.input_audio_transcription.completed",
                "item_id": item_id,
                "content_index": 0,
                "transcript": transcript,
                "usage": {"type": "duration", "seconds": round(ms / 1000, 3)},
            }
        )
        if respond:
            await self.start_response({}, automatic=True)

    async def _item_added(self, item: dict[str, Any], previous: str | None) -> None:
        for kind in ("conversation.item.added", "conversation.item.done"):
            await self.send({"type": kind, "previous_item_id": previous, "item": item})

    # Conversation items ------------------------------------------------------------------

    async def _on_item_create(self, event: dict[str, Any]) -> None:
        item = event.get("item")
        if not isinstance(item, dict):
            raise ClientEventError("Missing required parameter: 'item'.", param="item")
        item = copy.deepcopy(item)
        turn = self._turn_for_item(item)
        if turn.kind == "user":
            fault = self.state.take_fault("next_turn")
            if fault:
                await self.apply_fault(fault)
                return
        item.update(id=turn.id, object="realtime.item", status="completed")
        previous = self.turns[-1].id if self.turns else None
        self.turns.append(turn)
        await self._item_added(item, previous)

    def _turn_for_item(self, item: dict[str, Any]) -> Turn:
        """Validate a client item and reduce it to a ``Turn``."""
        item_id = item.get("id") if isinstance(item.get("id"), str) else self.state.new_id("item")
        kind = item.get("type")
        if kind == "message":
            role = item.get("role")
            if role not in ("user", "assistant", "system"):
                raise ClientEventError("Invalid 'item.role'.", param="item.role")
            text = message_text(item.get("content"))
            return Turn(
                item_id,
                "user" if role == "user" else "assistant" if role == "assistant" else "other",
                text,
            )
        if kind == "function_call_output":
            call_id, output = item.get("call_id"), item.get("output")
            if not isinstance(call_id, str) or not isinstance(output, str):
                raise ClientEventError(
                    "A function_call_output needs string 'call_id' and 'output'.",
                    param="item.output",
                )
            return Turn(item_id, "function_call_output", output, call_id=call_id)
        if kind == "function_call":
            return Turn(
                item_id,
                "function_call",
                str(item.get("arguments", "")),
                call_id=str(item.get("call_id", "")),
            )
        raise ClientEventError(f"Invalid value for 'item.type': {kind!r}.", param="item.type")

    async def _on_truncate(self, event: dict[str, Any]) -> None:
        await self.send(
            {
                "type": "conversation.item.truncated",
                "item_id": event.get("item_id"),
                "content_index": event.get("content_index", 0),
                "audio_end_ms": event.get("audio_end_ms", 0),
            }
        )

    # Responses ---------------------------------------------------------------------------

    async def _on_response_create(self, event: dict[str, Any]) -> None:
        request = event.get("response") or {}
        if not isinstance(request, dict):
            raise ClientEventError("Invalid type for 'response'.", param="response")
        if self.response is not None:
            raise ClientEventError(
                "Conversation already has an active response in progress: "
                f"{self.response.id}. Wait until the response is finished before creating a "
                "new one.",
                code="conversation_already_has_active_response",
            )
        await self.start_response(request, automatic=False)

    async def _on_response_cancel(self, event: dict[str, Any]) -> None:
        if not await self.cancel_response("client_cancelled"):
            raise ClientEventError(
                "Cancellation failed: no active response found.", code="response_cancel_not_active"
            )

    async def start_response(self, request: dict[str, Any], *, automatic: bool) -> None:
        """Send ``response.created`` and run the response in the background.

        An automatic response while another is active is skipped (the client's own
        ``response.create`` gets an error instead, see ``_on_response_create``).
        """
        if self.response is not None:
            if automatic:
                self.state.record(self.index, {"type": "simulator.response_skipped"})
            return
        fault = self.state.take_fault("next_response")
        if fault:
            await self.apply_fault(fault)
            return
        plan = self._plan(request)
        response = ActiveResponse(self.state.new_id("resp"))
        self.response = response
        await self.send(
            {"type": "response.created", "response": self._response_object(response, "in_progress")}
        )
        response.task = asyncio.create_task(self._run_response(response, plan))

    async def cancel_response(self, reason: str) -> bool:
        """Cancel the active response and wait for its ``response.done``; False if none."""
        response = self.response
        if response is None:
            return False
        response.reason = reason
        response.cancelled.set()
        if response.task is not None:
            await asyncio.wait({response.task})
        return True

    def _response_object(self, response: ActiveResponse, status: str) -> dict[str, Any]:
        details = None
        if status == "cancelled":
            details = {"type": "cancelled", "reason": response.reason}
        return {
            "id": response.id,
            "object": "realtime.response",
            "status": status,
            "status_details": details,
            "output": copy.deepcopy(response.output),
            "usage": None,
        }

    def _plan(self, request: dict[str, Any]) -> tuple[str, Any]:
        """Decide now what the response does: ("say", text) or ("call", (tool, turn))."""
        instructions = request.get("instructions")
        if isinstance(instructions, str) and instructions.startswith(SAY_PREFIX):
            return "say", instructions[len(SAY_PREFIX) :]
        call = self._tool_to_call(request)
        if call is not None:
            return "call", call
        return "say", self._reply_text()

    def _latest_user_turn(self) -> Turn | None:
        return next((t for t in reversed(self.turns) if t.kind == "user"), None)

    def _tool_to_call(self, request: dict[str, Any]) -> tuple[dict[str, Any], Turn] | None:
        tools = request["tools"] if isinstance(request.get("tools"), list) else None
        if tools is None:
            tools = self.session.get("tools") if isinstance(self.session.get("tools"), list) else []
        functions = [
            t
            for t in tools
            if isinstance(t, dict)
            and t.get("type", "function") == "function"
            and isinstance(t.get("name"), str)
        ]
        choice = request.get("tool_choice", self.session.get("tool_choice", "auto"))
        turn = self._latest_user_turn()
        if not functions or choice == "none" or turn is None or turn.called:
            return None
        if isinstance(choice, dict) and choice.get("type") == "function":
            forced = [t for t in functions if t["name"] == choice.get("name")]
            return (forced[0], turn) if forced else None
        named = [t for t in functions if mentions(turn.text, t["name"])]
        if not named and choice == "required":
            named = functions
        return (named[0], turn) if named else None

    def _reply_text(self) -> str:
        last = self.turns[-1] if self.turns else None
        if last is not None and last.kind == "function_call_output":
            return reply_for_tool_output(last.text)
        user = self._latest_user_turn()
        return f"You said: {user.text}" if user else NO_USER_TURN_REPLY

    async def _run_response(self, response: ActiveResponse, plan: tuple[str, Any]) -> None:
        try:
            action, arg = plan
            if action == "call":
                await self._call_tool(response, *arg)
            else:
                await self._speak(response, arg)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("provider simulator: a response failed")
            await self._finish(response, "failed")
            return
        await self._finish(response, "cancelled" if response.cancelled.is_set() else "completed")

    async def _finish(self, response: ActiveResponse, status: str) -> None:
        if self.response is response:
            self.response = None
        for item in response.output:
            if item.get("status") == "in_progress":
                item["status"] = "incomplete"
        await self.send(
            {"type": "response.done", "response": self._response_object(response, status)}
        )

    async def _pause(self, response: ActiveResponse) -> None:
        """Between audio chunks: yield (pace 0) or wait 100 ms / pace, waking on cancel."""
        pace = self.state.pace
        if pace <= 0:
            await asyncio.sleep(0)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(response.cancelled.wait(), audio.CHUNK_MS / 1000 / pace)

    def _stopped(self, response: ActiveResponse) -> bool:
        return self.closed or response.cancelled.is_set()

    async def _call_tool(self, response: ActiveResponse, tool: dict[str, Any], turn: Turn) -> None:
        turn.called = True
        arguments = (
            self.state.tool_arguments.popleft()
            if self.state.tool_arguments
            else tool_arguments(tool, turn.text)
        )
        encoded = json.dumps(arguments)
        call_id, item_id = self.state.new_id("call"), self.state.new_id("item")
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "function_call",
            "status": "in_progress",
            "name": tool["name"],
            "call_id": call_id,
            "arguments": "",
        }
        where = {
            "response_id": response.id,
            "item_id": item_id,
            "output_index": 0,
            "call_id": call_id,
        }
        await self.send(
            {
                "type": "response.output_item.added",
                "response_id": response.id,
                "output_index": 0,
                "item": dict(item),
            }
        )
        await self.send(
            {"type": "response.function_call_arguments.delta", **where, "delta": encoded}
        )
        await self.send(
            {
                "type": "response.function_call_arguments.done",
                **where,
                "name": tool["name"],
                "arguments": encoded,
            }
        )
        item.update(status="completed", arguments=encoded)
        response.output.append(item)
        self.turns.append(Turn(item_id, "function_call", encoded, call_id=call_id))
        await self.send(
            {
                "type": "response.output_item.done",
                "response_id": response.id,
                "output_index": 0,
                "item": dict(item),
            }
        )
        self.state.record(self.index, {"type": "simulator.function_call", "call_id": call_id})

    async def _speak(self, response: ActiveResponse, text: str) -> None:
        """Stream ``text`` as an assistant audio message, stopping early on cancel."""
        self.state.record(self.index, {"type": "simulator.spoke", "text": text})
        pcm = await asyncio.to_thread(audio.synthesize, text)
        item_id = self.state.new_id("item")
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "role": "assistant",
            "status": "in_progress",
            "content": [],
        }
        if self._stopped(response):
            return
        response.output.append(item)
        where = {"response_id": response.id, "item_id": item_id, "output_index": 0}
        part = {"content_index": 0, "part": {"type": "audio", "transcript": ""}}
        await self.send(
            {
                "type": "response.output_item.added",
                "response_id": response.id,
                "output_index": 0,
                "item": copy.deepcopy(item),
            }
        )
        await self.send({"type": "response.content_part.added", **where, **part})
        pieces = audio.chunks(pcm)
        words = transcript_deltas(text, len(pieces))
        for index, chunk in enumerate(pieces):
            if self._stopped(response):
                return
            await self.send(
                {
                    "type": "response.output_audio.delta",
                    **where,
                    "content_index": 0,
                    "delta": base64.b64encode(chunk).decode("ascii"),
                }
            )
            for delta in words.get(index, []):
                await self.send(
                    {
                        "type": "response.output_audio_transcript.delta",
                        **where,
                        "content_index": 0,
                        "delta": delta,
                    }
                )
            await self._pause(response)
        if self._stopped(response):
            return
        await self.send({"type": "response.output_audio.done", **where, "content_index": 0})
        await self.send(
            {
                "type": "response.output_audio_transcript.done",
                **where,
                "content_index": 0,
                "transcript": text,
            }
        )
        part["part"]["transcript"] = text
        await self.send({"type": "response.content_part.done", **where, **part})
        item.update(status="completed", content=[{"type": "output_audio", "transcript": text}])
        self.turns.append(Turn(item_id, "assistant", text))
        await self.send(
            {
                "type": "response.output_item.done",
                "response_id": response.id,
                "output_index": 0,
                "item": copy.deepcopy(item),
            }
        )

    _HANDLERS: dict[str, Callable[[RealtimeConnection, dict[str, Any]], Awaitable[None]]] = {
        "session.update": _on_session_update,
        "input_audio_buffer.append": _on_append,
        "input_audio_buffer.commit": _on_commit,
        "input_audio_buffer.clear": _on_clear,
        "conversation.item.create": _on_item_create,
        "conversation.item.truncate": _on_truncate,
        "response.create": _on_response_create,
        "response.cancel": _on_response_cancel,
    }


def message_text(content: Any) -> str:
    """The text of a message item's content parts (input_text / text / transcripts)."""
    if not isinstance(content, list):
        return ""
    texts = []
    for part in content:
        if isinstance(part, dict):
            value = part.get("text") if part.get("text") is not None else part.get("transcript")
            if isinstance(value, str):
                texts.append(value)
    return " ".join(texts)


def transcript_deltas(text: str, chunk_count: int) -> dict[int, list[str]]:
    """Spread the words of ``text`` over the audio chunks: {chunk index: [deltas]}.

    Deltas concatenate back to ``text`` exactly (whitespace stays attached to its word).
    """
    pieces: list[str] = []
    for word in text.split(" "):
        pieces.append(word if not pieces else " " + word)
    pieces = [p for p in pieces if p] or ([text] if text else [])
    slots: dict[int, list[str]] = {}
    last = max(0, chunk_count - 1)
    for i, piece in enumerate(pieces):
        slot = min(last, i * max(1, chunk_count) // max(1, len(pieces)))
        slots.setdefault(slot, []).append(piece)
    return slots
