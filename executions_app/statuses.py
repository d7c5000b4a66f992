"""Upstream's status names and aliases, normalized to ours."""

from __future__ import annotations

from executions_app.models import Status

ALIASES = {
    "success": Status.SUCCEEDED,
    "successful": Status.SUCCEEDED,
    "completed": Status.SUCCEEDED,
    "complete": Status.SUCCEEDED,
    "done": Status.SUCCEEDED,
    "ok": Status.SUCCEEDED,
    "error": Status.FAILED,
    "failure": Status.FAILED,
    "errored": Status.FAILED,
    "canceled": Status.CANCELLED,
    "in_progress": Status.RUNNING,
    "processing": Status.RUNNING,
    "started": Status.RUNNING,
    "timed_out": Status.TIMEOUT,
    "wait": Status.QUEUED,
    "pending": Status.QUEUED,
}


def normalize_status(value: object) -> str | None:
    """Our status for ``value``, or None when it is not one we know."""
    text = str(value or "").strip().lower().replace("-", "_").replace(" ", "_")
    if text in Status.values:
        return text
    return ALIASES.get(text)
