"""Enqueueing Celery tasks after the surrounding transaction commits."""

from __future__ import annotations

from django.db import transaction


def enqueue_dispatch_on_commit(execution_id: str, countdown: float | None = None) -> None:
    from executions_app.tasks import dispatch_execution

    transaction.on_commit(
        lambda: dispatch_execution.apply_async((execution_id,), countdown=countdown)
    )


def enqueue_webhook_on_commit(execution_id: str, countdown: float | None = None) -> None:
    from executions_app.tasks import deliver_webhook

    transaction.on_commit(lambda: deliver_webhook.apply_async((execution_id,), countdown=countdown))
