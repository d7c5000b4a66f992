"""The OpenAI Realtime event protocol toward a WebSocket client (API.md section 6).

The control plane's WebSocket transport speaks this protocol so an OpenAI realtime client
pointed at us works. Server events are built from the runtime's neutral events; function
calls stay inside the control plane and show up as ``agentfield.tool.*`` events.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import dataclass
from typing import Any

from foundation.errors import ApiError
from sessions_app.providers.base import (
    AssistantTranscript,
    AudioOut,
    ProviderError,
    ProviderEvent,
    ResponseDone,
    ResponseStarted,
    SpeechStarted,
    SpeechStopped,
    ToolCall,
    UserTranscript,
)
from sessions_app.runtime.sink import Notice

MAX_AUDIO_CHUNK_BYTES = 15 * 1024 * 1024  # OpenAI's own limit per append


def _event(type: str, **fields: Any) -> dict[str, Any]:
    return {"type": type, "event_id": f"event_{secrets.token_hex(8)}", **fields}


def error_event(code: str, message: str, *, event_id: str | None = None, **extra: Any):
    error = {"type": "invalid_request_error", "code": code, "message": message, **extra}
    if event_id:
        error["event_id"] = event_id
    return _event("error", error=error)


def server_event(event: ProviderEvent | Notice) -> dict[str, Any] | None:
    """The client-facing event for a runtime event, or None if the client needn't see it."""
    if isinstance(event, Notice):
        if event.type == "error":
            return _event("error", error={"type": "server_error", **event.data})
        return _event(f"agentfield.{event.type}", **event.data)
    if isinstance(event, AudioOut):
        delta = base64.b64encode(event.pcm).decode()
        return _event("response.output_audio.delta", response_id=event.response_id, delta=delta)
    if isinstance(event, AssistantTranscript):
        if event.final:
            return _event(
                "response.output_audio_transcript.done",
                response_id=event.response_id,
                transcript=event.text,
            )
        return _event(
            "response.output_audio_transcript.delta",
            response_id=event.response_id,
            delta=event.text,
        )
    if isinstance(event, SpeechStarted):
        return _event("input_audio_buffer.speech_started")
    if isinstance(event, SpeechStopped):
        return _event("input_audio_buffer.speech_stopped", audio_ms=event.audio_ms)
    if isinstance(event, UserTranscript):
        return _event(
            "conversation.item.input_audio_transcription.completed",
            item_id=event.item_id,
            content_index=0,
            transcript=event.text,
        )
    if isinstance(event, ResponseStarted):
        return _event(
            "response.created", response={"id": event.response_id, "status": "in_progress"}
        )
    if isinstance(event, ResponseDone):
        return _event("response.done", response={"id": event.response_id, "status": event.status})
    if isinstance(event, ProviderError):
        return _event(
            "error", error={"type": "provider_error", "code": event.code, "message": event.message}
        )
    if isinstance(event, ToolCall):
        return None  # the runtime announces agentfield.tool.call with the execution id
    return None


@dataclass(frozen=True)
class ClientCommand:
    """A client event, checked: ``name`` is a runtime method, ``args`` its arguments."""

    name: str
    args: dict[str, Any]


def _refused(code: str, message: str) -> ApiError:
    """A client event the call will not take: the consumer answers it with an ``error``
    event (``code``, ``message``) and the call goes on."""
    return ApiError(400, code, message)


def _decode_audio(value: Any) -> bytes:
    if not isinstance(value, str) or not value:
        raise _refused("invalid_audio", "audio must be a non-empty base64 string")
    try:
        pcm = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise _refused("invalid_audio", "audio is not valid base64") from None
    if len(pcm) % 2 or len(pcm) > MAX_AUDIO_CHUNK_BYTES:
        raise _refused(
            "invalid_audio", "audio must be pcm16 (an even number of bytes), at most 15 MiB"
        )
    return pcm


def _user_text(item: Any) -> str:
    if not isinstance(item, dict) or item.get("type") != "message" or item.get("role") != "user":
        raise _refused(
            "unsupported_item",
            "only user text messages may be created; function calls are handled by the "
            "control plane",
        )
    parts = item.get("content")
    texts = [
        part.get("text")
        for part in parts or []
        if isinstance(part, dict) and part.get("type") == "input_text"
    ]
    if not texts or not all(isinstance(t, str) for t in texts):
        raise _refused("unsupported_item", "a user message needs input_text content")
    return "\n".join(texts)


def _session_update(session: Any) -> dict[str, Any]:
    """Only ``instructions`` and ``audio.output.voice`` may change; tools and model never."""
    if not isinstance(session, dict):
        raise _refused("invalid_request", "session must be an object")
    allowed: dict[str, Any] = {}
    forbidden = sorted(set(session) - {"type", "instructions", "audio"})
    audio = session.get("audio", {})
    if not isinstance(audio, dict) or set(audio) - {"output"}:
        forbidden.append("audio")
    output = audio.get("output", {}) if isinstance(audio, dict) else {}
    if not isinstance(output, dict) or set(output) - {"voice"}:
        forbidden.append("audio.output")
    if forbidden:
        raise _refused(
            "session_update_forbidden",
            "only instructions and audio.output.voice may be updated; the control plane "
            f"owns the rest (refused: {', '.join(sorted(set(forbidden)))})",
        )
    if "instructions" in session:
        if not isinstance(session["instructions"], str):
            raise _refused("invalid_request", "instructions must be a string")
        allowed["instructions"] = session["instructions"]
    if "voice" in output:
        if not isinstance(output["voice"], str) or not output["voice"]:
            raise _refused("invalid_request", "audio.output.voice must be a string")
        allowed["voice"] = output["voice"]
    return allowed


def client_command(event: Any) -> ClientCommand:
    """Check one client event and say what the runtime should do with it."""
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise _refused("invalid_event", "each event must be a JSON object with a type")
    kind = event["type"]
    if kind == "input_audio_buffer.append":
        return ClientCommand("send_audio", {"pcm": _decode_audio(event.get("audio"))})
    if kind == "input_audio_buffer.commit":
        return ClientCommand("commit_audio", {})
    if kind == "input_audio_buffer.clear":
        return ClientCommand("clear_audio", {})
    if kind == "conversation.item.create":
        return ClientCommand("send_text", {"text": _user_text(event.get("item"))})
    if kind == "response.create":
        return ClientCommand("create_response", {})
    if kind == "response.cancel":
        return ClientCommand("cancel_response", {})
    if kind == "session.update":
        return ClientCommand("update", _session_update(event.get("session")))
    raise _refused("unknown_event", f"unknown or unsupported event type '{kind}'")
