"""What a live call has used, and the beat that writes it down and watches the row.

Usage is counted in memory on the hot path (every audio frame) and written to the session
row on every beat and at the end, so a call costs one UPDATE every ``HEARTBEAT_SECONDS``,
not one a frame.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime

from channels.db import database_sync_to_async
from django.utils import timezone

from sessions_app.models import SessionInstance, SessionStatus
from sessions_app.providers.base import BYTES_PER_MS
from sessions_app.services.lifecycle import session_touch

HEARTBEAT_SECONDS = 10.0

_touch = database_sync_to_async(session_touch)
_refresh = database_sync_to_async(SessionInstance.refresh_from_db)


class UsageCounters:
    """Audio in and out and user turns since the last flush. Only whole milliseconds of
    audio are written; the remainder waits for the next flush."""

    def __init__(self, session: SessionInstance) -> None:
        self._session = session
        self._audio_in_bytes = 0
        self._audio_out_bytes = 0
        self._turns = 0

    def audio_in(self, pcm: bytes) -> None:
        self._audio_in_bytes += len(pcm)

    def audio_out(self, pcm: bytes) -> None:
        self._audio_out_bytes += len(pcm)

    def turn(self) -> None:
        self._turns += 1

    async def flush(self) -> None:
        in_ms, out_ms = self._audio_in_bytes // BYTES_PER_MS, self._audio_out_bytes // BYTES_PER_MS
        self._audio_in_bytes -= in_ms * BYTES_PER_MS
        self._audio_out_bytes -= out_ms * BYTES_PER_MS
        turns, self._turns = self._turns, 0
        await _touch(self._session, audio_in_ms=in_ms, audio_out_ms=out_ms, turns=turns)


async def heartbeat(
    session: SessionInstance,
    counters: UsageCounters,
    end: Callable[[str, str], Awaitable[None]],
) -> None:
    """Until the call ends: flush the counters, re-read the row, and ``end`` the call once
    the row is no longer live (ended elsewhere) or its maximum duration is reached."""
    while True:
        await asyncio.sleep(_seconds_to_next_beat(session))
        await counters.flush()
        await _refresh(session)
        if not session.is_live:
            await end(session.status, session.end_reason)
            return
        if session.expires_at <= timezone.now():
            await end(SessionStatus.ENDED, "maximum session duration reached")
            return


def _seconds_to_next_beat(session: SessionInstance) -> float:
    """The next beat falls at the expiry when that comes sooner."""
    expires: datetime = session.expires_at
    remaining = (expires - timezone.now()).total_seconds()
    return max(0.0, min(HEARTBEAT_SECONDS, remaining))
