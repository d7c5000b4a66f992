"""The agent's status callback (``POST /executions/<id>/status``) for calls it answered 202."""

from __future__ import annotations

import json
from typing import Any

from executions_app.models import TERMINAL_STATUSES, Execution, Status
from executions_app.services.lifecycle import execution_finish
from executions_app.statuses import normalize_status


class StatusRejected(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body["error"])
        self.status = status
        self.body = body


def _error_text(error: Any) -> str:
    if error is None:
        return ""
    return error if isinstance(error, str) else json.dumps(error, default=str)


def execution_report_status(
    *,
    execution: Execution,
    status: str,
    result: Any = None,
    error: Any = None,
    duration_ms: int | None = None,
    status_reason: str = "",
) -> Execution:
    normalized = normalize_status(status)
    if normalized is None:
        raise StatusRejected(400, {"error": f"unsupported status '{status}'"})
    if normalized in TERMINAL_STATUSES:
        finished = execution_finish(
            execution.execution_id,
            status=normalized,
            result=result,
            error_message=_error_text(error),
            error_category="agent_error" if normalized == Status.FAILED else "",
            status_reason=status_reason,
            duration_ms=duration_ms,
            allow_terminal=True,
        )
        return finished or execution
    updated = Execution.objects.filter(pk=execution.pk, status__in=[Status.QUEUED, Status.RUNNING])
    if not updated.update(status=Status.RUNNING, status_reason=status_reason[:300]):
        raise StatusRejected(
            409,
            {
                "error": f"execution {execution.execution_id} is already {execution.status}",
                "status": execution.status,
            },
        )
    execution.refresh_from_db()
    return execution
