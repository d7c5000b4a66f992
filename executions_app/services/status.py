"""The agent's status callback (``POST /executions/<id>/status``) for calls it answered 202.

Finished is final: a callback is taken only while the execution waits for it (the node
answered 202 and nothing has ended it since); anything else is a 409 that changes nothing,
so a terminal record and its signature are written once (decision 0016).
"""

from __future__ import annotations

import json
from typing import Any

from access_app.principals import Principal
from executions_app.answers import UnstorableAnswer, answer_check
from executions_app.models import TERMINAL_STATUSES, Execution, Status
from executions_app.selectors import execution_get_for, principal_executes
from executions_app.services.lifecycle import execution_finish
from executions_app.statuses import normalize_status
from foundation.errors import ApiError


def _error_text(error: Any) -> str:
    if error is None:
        return ""
    return error if isinstance(error, str) else json.dumps(error, default=str)


def _awaits_callback(execution: Execution) -> bool:
    return execution.status == Status.RUNNING and execution.awaiting_callback


def _not_waiting(execution: Execution) -> ApiError:
    """The 409 for a callback the execution does not wait for (as it is now)."""
    if execution.is_terminal:
        error = f"execution {execution.execution_id} is already {execution.status}"
    else:
        error = f"execution {execution.execution_id} is not waiting for a status callback"
    return ApiError(409, error, status=execution.status)


def execution_get_awaiting_callback(*, principal: Principal, execution_id: str) -> Execution:
    """The execution ``principal`` may answer now: 404 if it cannot see it, 403 unless it
    is the executing node, 409 unless the execution waits for the callback. The route
    checks this before it reads the body: a refused callback changes nothing."""
    execution = execution_get_for(principal=principal, execution_id=execution_id)
    if not principal_executes(principal, execution):
        raise ApiError(403, "forbidden", "only the executing agent node may report status")
    if not _awaits_callback(execution):
        raise _not_waiting(execution)
    return execution


def _current(execution: Execution) -> Execution:
    return Execution.objects.filter(pk=execution.pk).first() or execution


def execution_fail_unreadable_callback(*, execution: Execution, reason: str) -> Execution | None:
    """The awaited callback could not be read or stored: the execution fails, clearly."""
    return execution_finish(
        execution.execution_id,
        status=Status.FAILED,
        error_category="agent_error",
        error_message=reason,
        only_if_awaiting_callback=True,
    )


def execution_report_status(
    *,
    execution: Execution,
    status: str,
    result: Any = None,
    error: Any = None,
    duration_ms: int | None = None,
    status_reason: str = "",
) -> Execution:
    if not _awaits_callback(execution):
        raise _not_waiting(execution)
    normalized = normalize_status(status)
    if normalized is None:
        raise ApiError(400, f"unsupported status '{status}'")
    try:
        answer_check(
            {"result": result, "error": error, "status_reason": status_reason},
            what="the agent's status callback",
        )
    except UnstorableAnswer as exc:
        if execution_fail_unreadable_callback(execution=execution, reason=str(exc)) is None:
            raise _not_waiting(_current(execution)) from None
        raise ApiError(400, "unstorable_answer", str(exc)) from None
    if normalized in TERMINAL_STATUSES:
        finished = execution_finish(
            execution.execution_id,
            status=normalized,
            result=result,
            error_message=_error_text(error),
            error_category="agent_error" if normalized == Status.FAILED else "",
            status_reason=status_reason,
            duration_ms=duration_ms,
            only_if_awaiting_callback=True,
        )
        if finished is None:
            raise _not_waiting(_current(execution))
        return finished
    waiting = Execution.objects.filter(
        pk=execution.pk, status=Status.RUNNING, awaiting_callback=True
    )
    if not waiting.update(status_reason=status_reason[:300]):
        raise _not_waiting(_current(execution))
    execution.refresh_from_db()
    return execution
