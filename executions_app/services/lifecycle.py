"""Status transitions of an execution. Terminal states never go back to a live one."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from executions_app.hints import notify_execution_ended_on_commit
from executions_app.models import TERMINAL_STATUSES, Execution, Status, WebhookStatus
from executions_app.provenance import sign_execution
from executions_app.queue import enqueue_webhook_on_commit
from executions_app.signals import execution_ended

ERROR_TEXT_LIMIT = 4000
FINISH_FIELDS = [
    "status",
    "result",
    "error_message",
    "error_category",
    "status_reason",
    "completed_at",
    "duration_ms",
    "claimed_by",
    "lease_expires_at",
    "awaiting_callback",
    "provenance_signature",
    "webhook_status",
]


def _apply_finish(
    execution: Execution,
    *,
    status: str,
    result: Any = None,
    error_message: str = "",
    error_category: str = "",
    status_reason: str = "",
    duration_ms: int | None = None,
) -> bool:
    """Set the terminal fields and the signature on ``execution``; True if a webhook is due."""
    now = timezone.now()
    started = execution.started_at or execution.created_at
    execution.status = status
    execution.result = result if status == Status.SUCCEEDED else None
    execution.error_message = (error_message or "")[:ERROR_TEXT_LIMIT]
    execution.error_category = error_category
    execution.status_reason = status_reason[:300]
    execution.completed_at = now
    execution.duration_ms = (
        duration_ms
        if duration_ms is not None
        else max(0, int((now - started).total_seconds() * 1000))
    )
    execution.claimed_by = ""
    execution.lease_expires_at = None
    execution.awaiting_callback = False
    execution.provenance_signature = sign_execution(execution)
    webhook = bool(execution.webhook_url) and execution.webhook_status in (
        WebhookStatus.NONE,
        WebhookStatus.PENDING,
    )
    if webhook:
        execution.webhook_status = WebhookStatus.PENDING
    return webhook


def _announce(execution: Execution, webhook: bool) -> None:
    notify_execution_ended_on_commit(execution.execution_id, execution.status)
    if execution.session_id:
        transaction.on_commit(
            lambda: execution_ended.send_robust(sender=Execution, execution=execution)
        )
    if webhook:
        enqueue_webhook_on_commit(execution.execution_id)


def execution_finish_claimed(execution: Execution, *, claimed_by: str, **outcome: Any) -> bool:
    """The dispatch path: the worker holds the claim and the loaded row, so one
    conditional UPDATE suffices (no lock, no re-read). False if the claim was lost."""
    webhook = _apply_finish(execution, **outcome)
    values = {field: getattr(execution, field) for field in FINISH_FIELDS}
    updated = Execution.objects.filter(
        pk=execution.pk, status=Status.RUNNING, claimed_by=claimed_by
    ).update(**values)
    if updated:
        _announce(execution, webhook)
    return bool(updated)


def execution_finish(
    execution_id: str,
    *,
    status: str,
    result: Any = None,
    error_message: str = "",
    error_category: str = "",
    status_reason: str = "",
    duration_ms: int | None = None,
    only_if_claimed_by: str | None = None,
    only_if_awaiting_callback: bool = False,
) -> Execution | None:
    """Write a terminal status, sign the record, and tell waiters and the webhook.

    Returns None when the row was not in a state that allows it (already finished, claimed
    by someone else, or not waiting for the agent's callback), so a late or duplicate
    writer changes nothing: a record is finished, and signed, once.
    """
    assert status in TERMINAL_STATUSES
    with transaction.atomic():
        execution = Execution.objects.select_for_update().filter(execution_id=execution_id).first()
        if execution is None:
            return None
        if execution.is_terminal:
            return None
        if only_if_claimed_by is not None and (
            execution.status != Status.RUNNING or execution.claimed_by != only_if_claimed_by
        ):
            return None
        if only_if_awaiting_callback and not execution.awaiting_callback:
            return None
        webhook = _apply_finish(
            execution,
            status=status,
            result=result,
            error_message=error_message,
            error_category=error_category,
            status_reason=status_reason,
            duration_ms=duration_ms,
        )
        execution.save(update_fields=FINISH_FIELDS)
        _announce(execution, webhook)
    return execution
