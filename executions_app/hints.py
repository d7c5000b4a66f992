"""Channel-layer hints that an execution ended. Hints only: waiters re-read the row."""

from __future__ import annotations

from django.db import transaction

from foundation.hints import send_hint


def execution_group(execution_id: str) -> str:
    return f"execution.{execution_id}"


def notify_execution_ended_on_commit(execution_id: str, status: str) -> None:
    message = {"type": "execution.ended", "execution_id": execution_id, "status": status}
    transaction.on_commit(lambda: send_hint(execution_group(execution_id), message))
