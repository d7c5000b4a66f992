"""A session's row from async tests, and waiting for it to finish on the session's hints
(``session_finish`` sends one on commit) with a re-read between them: no fixed sleeps."""

from __future__ import annotations

import time

from channels.db import database_sync_to_async

from foundation.waits import GroupHints
from sessions_app.hints import session_group
from sessions_app.models import SessionInstance


@database_sync_to_async
def session_row(session_id: str) -> SessionInstance:
    return SessionInstance.objects.get(session_id=session_id)


async def finished_row(session_id: str, timeout: float = 15) -> SessionInstance:
    """The row once the session has finished; ``timeout`` is only the failsafe."""
    deadline = time.monotonic() + timeout
    async with GroupHints(session_group(session_id)) as hints:
        while (row := await session_row(session_id)).is_live:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"session {session_id} is still {row.status}")
            await hints.pause(remaining)
    return row
