"""What upstream SDKs report about an execution beside its status: structured log lines
(``POST /executions/<id>/logs``) and workflow events (``POST /workflow/executions/events``).

They go to the server log under the ``agentfield.node_reports`` logger, one line each,
shortened; the execution's record (status, result, timing) stays the status callback's.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from executions_app.models import Execution

log = logging.getLogger("agentfield.node_reports")
MAX_TEXT = 300


def _short(value: Any) -> str:
    text = str(value if value is not None else "")
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "…"


def execution_logs_record(*, execution: Execution, entries: Sequence[Mapping[str, Any]]) -> int:
    """Log each entry's level, event type and message; returns how many were taken."""
    for entry in entries:
        level = str(entry.get("level") or "INFO").upper()
        log.log(
            logging.getLevelNamesMapping().get(level, logging.INFO),
            "execution %s (%s) log: %s %s",
            execution.execution_id,
            execution.target_name,
            _short(entry.get("event_type") or entry.get("type") or "-"),
            _short(entry.get("message")),
        )
    return len(entries)


def workflow_event_record(*, execution: Execution, event: Mapping[str, Any]) -> None:
    log.info(
        "execution %s (%s) workflow event: status=%s%s",
        execution.execution_id,
        execution.target_name,
        _short(event.get("status") or "-"),
        f" error={_short(event['error'])}" if event.get("error") else "",
    )
