"""What a runtime needs from the transport that holds the call."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from sessions_app.providers.base import ProviderEvent


@dataclass(frozen=True)
class Notice:
    """A session-level event for the client: ``session.*``, ``tool.*``, ``handler.say``,
    ``error``. ``data`` is JSON-ready."""

    type: str
    data: dict[str, Any] = field(default_factory=dict)


class RuntimeSink(Protocol):
    async def deliver(self, event: ProviderEvent | Notice) -> None:
        """Pass an event on to the client (audio for playback, transcripts, notices)."""

    async def flush_playback(self) -> None:
        """Barge-in: drop every queued outbound audio frame now."""

    async def playback_drained(self) -> None:
        """Returns once queued outbound audio has been played (at once if none is held)."""

    async def release(self, status: str, reason: str) -> None:
        """The session is over; release the transport. Called once."""
