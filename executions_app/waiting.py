"""Waiting for an execution's end (the sync route, live sessions): hints on its group
and re-reads of its row (``foundation.waits``)."""

from __future__ import annotations

import time

from executions_app.hints import execution_group
from executions_app.models import TERMINAL_STATUSES, Execution
from foundation.waits import GroupHints


async def wait_for_execution_end(execution_id: str, timeout: float) -> Execution | None:
    """The execution once terminal, or its latest state when ``timeout`` runs out.

    None if it does not exist.
    """
    deadline = time.monotonic() + timeout
    async with GroupHints(execution_group(execution_id)) as hints:
        while True:
            execution = await Execution.objects.filter(execution_id=execution_id).afirst()
            if execution is None or execution.status in TERMINAL_STATUSES:
                return execution
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return execution
            await hints.pause(remaining)
