"""The ``events`` data channel of a WebRTC call: JSON session events out, commands in.

Out (the browser pages rely on exactly these shapes):

- runtime ``Notice(type, data)`` -> ``{"type": type, **data}`` (``session.*``, ``tool.call``,
  ``tool.result``, ``handler.say``, ``error``)
- ``UserTranscript`` -> ``{"type": "turn.user", "text", "audio_ms"}``
- ``AssistantTranscript`` delta -> ``{"type": "transcript.delta", "role": "assistant", "text"}``;
  final -> ``{"type": "turn.assistant", "text"}``
- ``SpeechStarted`` / ``SpeechStopped`` -> ``{"type": "speech.started"}`` / ``speech.stopped``
- ``ResponseStarted`` -> ``{"type": "response.started"}``;
  ``ResponseDone`` -> ``{"type": "response.done", "status"}``
- ``ProviderError`` -> ``{"type": "error", "code", "message"}``
- ``PlaybackStarted`` / ``PlaybackStopped`` (direct media: the provider plays the audio) ->
  ``{"type": "playback.started"}`` / ``playback.stopped``; a relayed call sends the same two
  around what its own track plays, and its ``transcript.delta``, ``turn.assistant`` and
  ``response.done`` once the audio before them was played (``WebRTCCall.deliver``)
- audio never: it plays on the call's audio track.

In: ``{"type": "input_text", "text"}`` (a typed turn) and ``{"type": "end"}``; anything
else is answered with an ``error`` event.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from foundation.errors import ApiError
from foundation.strict_json import UntrustedJSONError, loads_untrusted
from sessions_app.providers.base import (
    AssistantTranscript,
    PlaybackStarted,
    PlaybackStopped,
    ProviderError,
    ProviderEvent,
    ResponseDone,
    ResponseStarted,
    SpeechStarted,
    SpeechStopped,
    UserTranscript,
)
from sessions_app.runtime.sink import Notice

MAX_MESSAGE_CHARS = 64 * 1024
MAX_TEXT_CHARS = 4096


def channel_event(event: ProviderEvent | Notice) -> dict[str, Any] | None:
    """The data-channel message for a runtime event, or None if it has none."""
    if isinstance(event, Notice):
        return {"type": event.type, **event.data}
    if isinstance(event, UserTranscript):
        return {"type": "turn.user", "text": event.text, "audio_ms": event.audio_ms}
    if isinstance(event, AssistantTranscript):
        if event.final:
            return {"type": "turn.assistant", "text": event.text}
        return {"type": "transcript.delta", "role": "assistant", "text": event.text}
    if isinstance(event, SpeechStarted):
        return {"type": "speech.started"}
    if isinstance(event, SpeechStopped):
        return {"type": "speech.stopped"}
    if isinstance(event, ResponseStarted):
        return {"type": "response.started"}
    if isinstance(event, ResponseDone):
        return {"type": "response.done", "status": event.status}
    if isinstance(event, ProviderError):
        return {"type": "error", "code": event.code, "message": event.message}
    if isinstance(event, PlaybackStarted):
        return {"type": "playback.started"}
    if isinstance(event, PlaybackStopped):
        return {"type": "playback.stopped"}
    return None  # AudioOut, ToolCall, ProviderClosed


def error_event(code: str, message: str) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message}


@dataclass(frozen=True)
class InputText:
    text: str


@dataclass(frozen=True)
class EndCall:
    pass


def _refused(code: str, message: str) -> ApiError:
    """A message the call will not take: answered with an ``error`` event
    (``refusal_event``) and the call goes on."""
    return ApiError(400, code, message)


def refusal_event(exc: ApiError) -> dict:
    return error_event(exc.error, exc.message or exc.error)


def channel_command(raw: str | bytes) -> InputText | EndCall:
    """Parse one message from the browser; the ``ApiError`` it raises says what is wrong."""
    if isinstance(raw, bytes):
        raise _refused("invalid_event", "events must be JSON text messages")
    if len(raw) > MAX_MESSAGE_CHARS:
        raise _refused("message_too_large", "events may be at most 64 KiB")
    try:
        event = loads_untrusted(raw)  # the same strict reader as every route and socket
    except UntrustedJSONError as exc:
        raise _refused("invalid_json", f"the message is not acceptable JSON: {exc}") from None
    kind = event.get("type") if isinstance(event, dict) else None
    if kind == "input_text":
        text = event.get("text")
        if not isinstance(text, str) or not text.strip():
            raise _refused("invalid_event", "input_text needs a non-empty 'text'")
        if len(text) > MAX_TEXT_CHARS:
            raise _refused("invalid_event", "input_text may be at most 4096 characters")
        return InputText(text)
    if kind == "end":
        return EndCall()
    shown = kind if isinstance(kind, str) else json.dumps(kind)
    raise _refused("unknown_event", f"unknown event type {shown[:100]}; expected input_text or end")
