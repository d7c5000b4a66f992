"""OpenAI realtime (GA) wire events <-> the neutral events and commands of ``base``.

Client events are built here from neutral commands; server events are mapped here to
neutral events. Nothing else in the project knows an OpenAI realtime event name.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Callable
from typing import Any

from sessions_app.providers.base import (
    AssistantTranscript,
    AudioOut,
    PlaybackStarted,
    PlaybackStopped,
    ProviderConfig,
    ProviderError,
    ProviderEvent,
    ResponseDone,
    ResponseStarted,
    SpeechStarted,
    SpeechStopped,
    ToolCall,
    ToolSpec,
    UserTranscript,
    tool_arguments_parse,
)

from .sequencer import QUIET_ERRORS, ResponseSequencer, remember

log = logging.getLogger(__name__)

DEFAULT_INSTRUCTIONS = (
    "You are a realtime voice front end for an AgentField session. Use registered tools to route "
    "agent work through the AgentField control plane."
)
DEFAULT_VOICE = "marin"
TRANSCRIPTION_MODEL = "gpt-4o-mini-transcribe"
SAY_PREFIX = "Say exactly the following text, word for word, and nothing else:\n"
PCM_FORMAT = {"type": "audio/pcm", "rate": 24000}

_AUDIO_DELTAS = frozenset({"response.output_audio.delta", "response.audio.delta"})
_TRANSCRIPT_DELTAS = frozenset(
    {"response.output_audio_transcript.delta", "response.audio_transcript.delta"}
)
_TRANSCRIPT_DONES = frozenset(
    {"response.output_audio_transcript.done", "response.audio_transcript.done"}
)


# Client events: neutral commands to OpenAI ---------------------------------------------------


def session_payload(config: ProviderConfig, *, audio_formats: bool = True) -> dict[str, Any]:
    """The GA ``session`` object sent on opening. A WebRTC call (``audio_formats`` False)
    names no audio format: its codec was negotiated in the SDP."""
    tools = [_tool_payload(tool) for tool in config.tools]
    audio_in: dict[str, Any] = {
        "transcription": {"model": TRANSCRIPTION_MODEL},
        "turn_detection": _turn_detection(config),
    }
    audio_out: dict[str, Any] = {"voice": config.voice or DEFAULT_VOICE}
    if audio_formats:
        audio_in = {"format": dict(PCM_FORMAT), **audio_in}
        audio_out = {"format": dict(PCM_FORMAT), **audio_out}
    return {
        "type": "realtime",
        "model": config.model,
        "instructions": config.instructions or DEFAULT_INSTRUCTIONS,
        "output_modalities": ["audio"],
        "audio": {"input": audio_in, "output": audio_out},
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


def session_update(config: ProviderConfig, *, audio_formats: bool = True) -> dict[str, Any]:
    return {
        "type": "session.update",
        "session": session_payload(config, audio_formats=audio_formats),
    }


def session_change(*, instructions: str | None, voice: str | None) -> dict[str, Any] | None:
    """The mid-call ``session.update`` of ``update()``; None when nothing changes."""
    session: dict[str, Any] = {"type": "realtime"}
    if instructions is not None:
        session["instructions"] = instructions
    if voice is not None:
        session["audio"] = {"output": {"voice": voice}}
    return {"type": "session.update", "session": session} if len(session) > 1 else None


def audio_append(pcm: bytes) -> dict[str, Any]:
    """Plain JSON already: sent raw, not through the SDK's typed transform."""
    return {"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm).decode("ascii")}


def audio_commit() -> dict[str, Any]:
    return {"type": "input_audio_buffer.commit"}


def audio_clear() -> dict[str, Any]:
    return {"type": "input_audio_buffer.clear"}


def user_text(text: str) -> dict[str, Any]:
    content = [{"type": "input_text", "text": text}]
    item = {"type": "message", "role": "user", "content": content}
    return {"type": "conversation.item.create", "item": item}


def tool_output(call_id: str, output: str) -> dict[str, Any]:
    item = {"type": "function_call_output", "call_id": call_id, "output": output}
    return {"type": "conversation.item.create", "item": item}


def say_response(text: str) -> dict[str, Any]:
    """The ``response`` of a create that speaks exactly ``text`` (instructions, no tools)."""
    return {"instructions": SAY_PREFIX + text, "tool_choice": "none"}


def response_create(response: dict[str, Any]) -> dict[str, Any]:
    event: dict[str, Any] = {"type": "response.create"}
    if response:
        event["response"] = response
    return event


def response_cancel() -> dict[str, Any]:
    return {"type": "response.cancel"}


def playback_clear() -> dict[str, Any]:
    """WebRTC only: cut the provider's playback now (after ``response.cancel``)."""
    return {"type": "output_audio_buffer.clear"}


# Server events: OpenAI to neutral events ----------------------------------------------------


def decode(raw: bytes | str) -> dict[str, Any]:
    """A server event as a dict; ``{}`` for a frame that is not a JSON object."""
    try:
        message = json.loads(raw)
    except ValueError:
        log.debug("OpenAI realtime: non-JSON frame ignored")
        return {}
    return message if isinstance(message, dict) else {}


def is_session_updated(message: dict[str, Any]) -> bool:
    return message.get("type") == "session.updated"


def error_of(message: dict[str, Any]) -> dict[str, Any] | None:
    """The ``error`` object of an error event, else None."""
    return (message.get("error") or {}) if message.get("type") == "error" else None


def track(responses: ResponseSequencer, message: dict[str, Any]) -> dict[str, Any] | None:
    """Keep the sequencer in step with one server event; returns a create it releases."""
    kind = message.get("type")
    if kind == "response.created":
        responses.created()
    elif kind == "response.done":
        return responses.done()
    elif kind == "error":
        error = message.get("error") or {}
        return responses.failed(str(error.get("event_id") or ""), error.get("code"))
    return None


class EventMapper:
    """Server events to neutral events, for one connection: it pairs speech start and stop
    to give a user turn its duration. ``scrub`` removes secrets from the provider's text."""

    def __init__(self, scrub: Callable[[str], str]) -> None:
        self._scrub = scrub
        # item_id -> audio_start_ms, and item_id -> speech duration.
        self._speech_start: dict[str, int] = {}
        self._speech_ms: dict[str, int] = {}

    def map(self, message: dict[str, Any]) -> list[ProviderEvent]:
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
        remember(self._speech_start, item_id, int(message.get("audio_start_ms") or 0))
        return [SpeechStarted()]

    def _speech_stopped(self, message: dict[str, Any]) -> list[ProviderEvent]:
        item_id = str(message.get("item_id") or "")
        start = self._speech_start.pop(item_id, None)
        end = message.get("audio_end_ms")
        audio_ms = max(0, int(end) - start) if start is not None and end is not None else 0
        remember(self._speech_ms, item_id, audio_ms)
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
        if code in QUIET_ERRORS:
            log.debug("OpenAI realtime: %s (%s)", code, text)
            return []
        return [ProviderError(code=code, message=text)]


_MAPPERS: dict[str, Callable[[EventMapper, dict[str, Any]], list[ProviderEvent]]] = {
    "input_audio_buffer.speech_started": EventMapper._speech_started,
    "input_audio_buffer.speech_stopped": EventMapper._speech_stopped,
    "conversation.item.input_audio_transcription.completed": EventMapper._user_transcript,
    "response.created": EventMapper._response_started,
    "response.done": EventMapper._response_done,
    "response.output_item.done": EventMapper._output_item_done,
    "error": EventMapper._error,
    # WebRTC only: the provider's own peer plays the audio.
    "output_audio_buffer.started": lambda mapper, message: [PlaybackStarted()],
    "output_audio_buffer.stopped": lambda mapper, message: [PlaybackStopped()],
    "output_audio_buffer.cleared": lambda mapper, message: [PlaybackStopped()],
}
