"""Waiting for an execution's end (the sync route, live sessions): hints on its group
and re-reads of its row (``foundation.waits``)."""

from __future__ import annotations

import time

from django.urls import reverse

from executions_app.hints import execution_group
from executions_app.models import TERMINAL_STATUSES, Execution
from foundation.errors import ApiError
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


async def execution_result_within(accepted: Execution, timeout: float) -> Execution:
    """The sync route's answer: ``accepted`` once it has ended, else a 504 that says where to
    poll (with the ids in its headers, as the 200 has)."""
    execution = await wait_for_execution_end(accepted.execution_id, timeout)
    if execution is not None and execution.status in TERMINAL_STATUSES:
        return execution
    raise ApiError(
        504,
        "execution_timeout",
        f"the execution did not finish within {timeout:g} s; "
        f"poll GET {reverse('execution-detail', args=[accepted.execution_id])}",
        headers=execution_headers(accepted),
        execution_id=accepted.execution_id,
        run_id=accepted.run_id,
        status=execution.status if execution else "unknown",
    )


def execution_headers(execution: Execution) -> dict[str, str]:
    """The ids an execute answer carries in its headers."""
    return {"X-Execution-ID": execution.execution_id, "X-Run-ID": execution.run_id}
