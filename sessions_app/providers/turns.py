"""The provider boundary for turn-based audio: neutral messages in, a spoken reply out.

A turn provider (OpenRouter today) answers one request at a time; it holds no connection
between turns. The conversation is kept by the control plane as neutral ``Message`` values
and turned into wire messages only inside the adapter. Audio out is pcm16, 24 kHz, mono.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from sessions_app.providers.base import ToolCall, ToolSpec

AudioFormat = Literal["wav", "mp3"]


@dataclass(frozen=True)
class AudioClip:
    """A user's recorded turn, exactly as uploaded."""

    data: bytes
    format: AudioFormat


@dataclass(frozen=True)
class Message:
    """One conversation entry.

    ``user``: ``text`` and/or ``audio`` (audio only for the turn being answered);
    ``assistant``: what was said, and the tools it called; ``tool``: one call's output.
    """

    role: Literal["user", "assistant", "tool"]
    text: str = ""
    audio: AudioClip | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    call_id: str = ""


@dataclass
class Reply:
    """One provider answer: speech (and its transcript), or tool calls, or both."""

    text: str = ""
    pcm: bytes = b""
    tool_calls: list[ToolCall] = field(default_factory=list)
    generation_id: str = ""
    provider_ms: float = 0.0


class TurnProviderError(Exception):
    """The provider failed; ``code`` is its HTTP status, or a word for what went wrong
    (``stream cut``, ``timeout``, ``unreachable``). ``message`` never holds a key."""

    def __init__(self, code: int | str, message: str) -> None:
        super().__init__(f"({code}): {message}")
        self.code = code
        self.message = message


class TurnProvider(Protocol):
    name: str  # how errors name it: "<name> audio turn failed (<code>): ..."

    async def transcribe(self, clip: AudioClip) -> str:
        """The words of ``clip``."""

    async def respond(
        self,
        *,
        model: str,
        voice: str,
        instructions: str,
        messages: list[Message],
        tools: tuple[ToolSpec, ...],
    ) -> Reply:
        """The model's spoken answer to the conversation (may call tools instead)."""

    async def say(self, *, model: str, voice: str, text: str) -> Reply:
        """Speak exactly ``text``."""

    async def aclose(self) -> None: ...
