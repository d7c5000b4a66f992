"""The ``events`` data channel's mapping: the shapes the browser pages rely on."""

from __future__ import annotations

import pytest

from foundation.errors import ApiError
from sessions_app.providers.base import (
    AssistantTranscript,
    AudioOut,
    ProviderClosed,
    ProviderError,
    ResponseDone,
    ResponseStarted,
    SpeechStarted,
    SpeechStopped,
    ToolCall,
    UserTranscript,
)
from sessions_app.runtime.sink import Notice
from sessions_app.transports.webrtc_events import (
    EndCall,
    InputText,
    channel_command,
    channel_event,
    refusal_event,
)


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (Notice("session.active", {"session_id": "s", "handler": False}),
         {"type": "session.active", "session_id": "s", "handler": False}),
        (Notice("tool.call", {"tool": "t", "execution_id": "e"}),
         {"type": "tool.call", "tool": "t", "execution_id": "e"}),
        (Notice("session.ended", {"reason": "r"}), {"type": "session.ended", "reason": "r"}),
        (UserTranscript("hello", "item", 900),
         {"type": "turn.user", "text": "hello", "audio_ms": 900}),
        (AssistantTranscript("Hi", final=False),
         {"type": "transcript.delta", "role": "assistant", "text": "Hi"}),
        (AssistantTranscript("Hi there", final=True),
         {"type": "turn.assistant", "text": "Hi there"}),
        (SpeechStarted(), {"type": "speech.started"}),
        (SpeechStopped(audio_ms=5), {"type": "speech.stopped"}),
        (ResponseStarted("r1"), {"type": "response.started"}),
        (ResponseDone("cancelled", "r1"), {"type": "response.done", "status": "cancelled"}),
        (ProviderError("rate_limited", "slow down"),
         {"type": "error", "code": "rate_limited", "message": "slow down"}),
    ],
)  # fmt: skip
def test_each_runtime_event_has_its_channel_message(event, message):
    assert channel_event(event) == message


@pytest.mark.parametrize(
    "event", [AudioOut(b"\0\0"), ToolCall("c", "t", {}), ProviderClosed("gone")]
)
def test_audio_and_internal_events_never_go_on_the_channel(event):
    assert channel_event(event) is None


def test_it_accepts_typed_turns_and_end():
    assert channel_command('{"type": "input_text", "text": "hi"}') == InputText("hi")
    assert channel_command('{"type": "end"}') == EndCall()


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("{not json", "invalid_json"),
        ('{"type": "input_text", "text": "hi \\ud800"}', "invalid_json"),
        ('{"type": "input_text", "text": "hi \\u0000"}', "invalid_json"),
        ('{"type": "input_text", "text": "hi", "n": NaN}', "invalid_json"),
        ('{"type": "input_text", "text": "hi", "n": -1e999}', "invalid_json"),
        ("[" * 10_000 + "]" * 10_000, "invalid_json"),
        ("[1, 2]", "unknown_event"),
        ('{"type": "response.create"}', "unknown_event"),
        ('{"type": "input_text"}', "invalid_event"),
        ('{"type": "input_text", "text": "   "}', "invalid_event"),
        ('{"type": "input_text", "text": "' + "a" * 5000 + '"}', "invalid_event"),
        (b"\x00\x01", "invalid_event"),
        ("x" * (65 * 1024), "message_too_large"),
    ],
)
def test_anything_else_is_an_error_event(raw, code):
    with pytest.raises(ApiError) as info:
        channel_command(raw)
    event = refusal_event(info.value)
    assert event["type"] == "error"
    assert event["code"] == code
    assert event["message"]
