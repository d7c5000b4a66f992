"""The provider boundary: neutral commands in, neutral events out.

A provider adapter (one file per provider in this package) is the only code that knows a
provider's wire protocol. The runtime and the transports speak only the types below.
Audio is always pcm16, 24 kHz, mono, little-endian bytes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from foundation.strict_json import UntrustedJSONError, check_untrusted, loads_untrusted

SAMPLE_RATE = 24_000
BYTES_PER_MS = SAMPLE_RATE * 2 // 1000  # pcm16 mono: 48 bytes per millisecond


@dataclass(frozen=True)
class ToolSpec:
    """One function the model may call; ``name`` is the short tool name."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = field(
        default_factory=lambda: {"type": "object", "properties": {}, "additionalProperties": True}
    )


@dataclass(frozen=True)
class ProviderConfig:
    """What a live session asks of its provider when it opens."""

    session_id: str
    model: str
    voice: str = ""
    instructions: str = ""
    tools: tuple[ToolSpec, ...] = ()
    turn_detection: dict[str, Any] | None = None
    # False for handler-driven sessions: the provider transcribes and speaks, never answers.
    auto_respond: bool = True


# Neutral events, provider to runtime -------------------------------------------------------


@dataclass(frozen=True)
class SpeechStarted:
    """The user started speaking (barge-in when the assistant is talking)."""


@dataclass(frozen=True)
class SpeechStopped:
    audio_ms: int = 0


@dataclass(frozen=True)
class UserTranscript:
    """A committed user turn, transcribed."""

    text: str
    item_id: str = ""
    audio_ms: int = 0


@dataclass(frozen=True)
class AudioOut:
    pcm: bytes
    response_id: str = ""


@dataclass(frozen=True)
class AssistantTranscript:
    """Assistant speech as text: ``final`` False for a delta, True for the whole utterance."""

    text: str
    final: bool
    response_id: str = ""


@dataclass(frozen=True)
class ToolCall:
    call_id: str
    name: str
    arguments: dict[str, Any]
    # Why the model's arguments were refused (not JSON, or JSON we cannot store): the call
    # is not made and the model hears the reason.
    error: str = ""


def tool_arguments_parse(raw: Any) -> tuple[dict[str, Any], str]:
    """(arguments, error) of a function call's arguments, read as untrusted JSON: the model
    writes them, so they pass the same checks a client's body does."""
    if raw in (None, ""):
        return {}, ""
    try:
        if isinstance(raw, str | bytes):
            parsed = loads_untrusted(raw)
        else:
            check_untrusted(raw)
            parsed = raw
    except UntrustedJSONError as exc:
        return {}, f"the tool arguments were refused: {exc}"
    if not isinstance(parsed, dict):
        return {}, "the tool arguments were refused: they must be a JSON object"
    return parsed, ""


@dataclass(frozen=True)
class ResponseStarted:
    response_id: str = ""


@dataclass(frozen=True)
class ResponseDone:
    status: str = "completed"  # completed | cancelled | failed | incomplete
    response_id: str = ""


@dataclass(frozen=True)
class PlaybackStarted:
    """Direct media: the provider's own peer started playing the assistant's audio."""


@dataclass(frozen=True)
class PlaybackStopped:
    """Direct media: the provider's peer played (or dropped, on barge-in) all it had."""


@dataclass(frozen=True)
class ProviderError:
    """The provider reported an error; the connection stays usable."""

    code: str
    message: str


@dataclass(frozen=True)
class ProviderClosed:
    """The connection is gone. ``reason`` is empty when we closed it ourselves.

    ``hung_up``: a direct-media call that the provider ended in good order (the caller left
    or never connected), not a lost connection."""

    reason: str = ""
    hung_up: bool = False


ProviderEvent = (
    SpeechStarted
    | SpeechStopped
    | UserTranscript
    | AudioOut
    | AssistantTranscript
    | ToolCall
    | ResponseStarted
    | ResponseDone
    | PlaybackStarted
    | PlaybackStopped
    | ProviderError
    | ProviderClosed
)


class ProviderUnavailable(Exception):
    """Opening the provider connection failed; the message is safe to show a client.

    ``code`` is the provider's HTTP status when it answered with one, else a short word
    (``connect``, ``timeout``, or the provider's error code); ``detail`` is what it said.
    """

    def __init__(self, message: str, *, code: int | str = "connect", detail: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.detail = detail or message


class ProviderAdapter(Protocol):
    """One live connection to a realtime provider."""

    async def open(self, config: ProviderConfig) -> None:
        """Connect and configure the session; raise ``ProviderUnavailable`` on failure."""

    def events(self) -> AsyncIterator[ProviderEvent]:
        """Neutral events until the connection closes; the last one is ``ProviderClosed``."""

    async def send_audio(self, pcm: bytes) -> None: ...

    async def commit_audio(self) -> None:
        """End the user's turn by hand (no server VAD)."""

    async def clear_audio(self) -> None: ...

    async def send_text(self, text: str) -> None:
        """A typed user turn (answered when ``auto_respond``)."""

    async def say(self, text: str) -> None:
        """Make the provider speak exactly ``text``."""

    async def send_tool_result(self, call_id: str, output: str) -> None:
        """Return a function result and ask for the next response."""

    async def create_response(self) -> None: ...

    async def cancel(self) -> None:
        """Stop the response in progress (barge-in)."""

    async def update(self, *, instructions: str | None = None, voice: str | None = None) -> None:
        """The only session changes a client may make mid-call."""

    async def close(self) -> None:
        """Idempotent."""


class DirectMediaAdapter(ProviderAdapter, Protocol):
    """A call whose media flows between the caller and the provider (``media: direct``):
    the adapter was made with the caller's SDP offer, ``open`` creates the call at the
    provider and attaches to it over a sideband, and ``close`` hangs it up."""

    answer_sdp: str  # the provider's SDP answer, once ``open`` returned
    call_id: str  # the provider's id of the call, once ``open`` returned
