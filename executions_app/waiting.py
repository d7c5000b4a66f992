"""Waiting for an execution to end, for the sync route and for live sessions.

Channel delivery is at most once (and the in-memory layer does not cross processes), so
the wait listens on the execution's group *and* re-reads the row, with a growing interval.
Nothing here holds a thread while it waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from channels.layers import InMemoryChannelLayer, get_channel_layer

from executions_app.models import TERMINAL_STATUSES, Execution
from executions_app.notify import execution_group

FIRST_RECHECK = 0.01
MAX_RECHECK = 0.5
# The in-memory layer cannot carry the worker's hint across processes: the re-read is the
# only news, so it must come often (a read of one row by key costs well under 1 ms).
MAX_RECHECK_WITHOUT_HINTS = 0.025


def _max_recheck(layer) -> float:
    return MAX_RECHECK_WITHOUT_HINTS if isinstance(layer, InMemoryChannelLayer) else MAX_RECHECK


async def wait_for_execution_end(execution_id: str, timeout: float) -> Execution | None:
    """The execution once terminal, or its latest state when ``timeout`` runs out.

    None if it does not exist.
    """
    layer = get_channel_layer()
    channel = await layer.new_channel("wait.")
    group = execution_group(execution_id)
    await layer.group_add(group, channel)
    deadline = time.monotonic() + timeout
    recheck, max_recheck = FIRST_RECHECK, _max_recheck(layer)
    # One receive stays pending across re-reads: cancelling a Redis receive drops its
    # connection, so it is cancelled once, at the end, not at every re-read.
    hint: asyncio.Task | None = None
    try:
        while True:
            execution = await Execution.objects.filter(execution_id=execution_id).afirst()
            if execution is None or execution.status in TERMINAL_STATUSES:
                return execution
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return execution
            if hint is None or hint.done():
                hint = asyncio.ensure_future(layer.receive(channel))
            done, _ = await asyncio.wait({hint}, timeout=min(recheck, remaining))
            if done:
                with contextlib.suppress(Exception):  # a failed receive is just no hint
                    hint.result()
            recheck = FIRST_RECHECK if done else min(recheck * 2, max_recheck)
    finally:
        if hint is not None and not hint.done():
            hint.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await hint
        await layer.group_discard(group, channel)
