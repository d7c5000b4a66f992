"""What upstream SDKs report about an execution beside its status: structured log lines
(``POST /executions/<id>/logs``) and workflow events (``POST /workflow/executions/events``).

They go to the server log under the ``agentfield.node_reports`` logger, one line each,
shortened; the execution's record (status, result, timing) stays the status callback's.
The agent writes the text, so it cannot forge lines: control characters (newlines too)
are escaped, and the level it asks for is at most WARNING.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

from executions_app.models import Execution

log = logging.getLogger("agentfield.node_reports")
MAX_TEXT = 300
# An agent's line is logged at most at this level (ERROR and above are the server's).
MAX_LEVEL = logging.WARNING
# C0 and C1 controls, DEL, and the Unicode line and paragraph separators.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _escaped(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape").decode("ascii")


def _short(value: Any) -> str:
    """The agent's text on one line: controls escaped as ``\\n``, ``\\x1b``; shortened."""
    text = _CONTROL.sub(_escaped, str(value if value is not None else ""))
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "…"


def _level(value: Any) -> int:
    asked = logging.getLevelNamesMapping().get(str(value or "INFO").upper(), logging.INFO)
    return min(asked, MAX_LEVEL)


def execution_logs_record(*, execution: Execution, entries: Sequence[Mapping[str, Any]]) -> int:
    """Log each entry's level, event type and message; returns how many were taken."""
    for entry in entries:
        log.log(
            _level(entry.get("level")),
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
