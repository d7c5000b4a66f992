"""Enqueueing Celery tasks after the surrounding transaction commits.

Tasks are sent by their registered name, so the services that enqueue never import the
tasks module (which imports them). A failed publish is logged, not raised: the row is
already stored as queued, and the recovery sweep (``executions_recover``) enqueues queued
rows whose message went missing.
"""

from __future__ import annotations

import logging

from celery import current_app
from django.db import transaction

log = logging.getLogger(__name__)

# The names ``executions_app.tasks`` registers its tasks under.
DISPATCH_TASK = "executions_app.tasks.dispatch_execution"
WEBHOOK_TASK = "executions_app.tasks.deliver_webhook"


def _publish(task_name: str, execution_id: str, countdown: float | None) -> None:
    try:
        current_app.send_task(task_name, (execution_id,), countdown=countdown, ignore_result=True)
    except Exception:
        log.warning(
            "could not enqueue %s for %s; the sweep will retry",
            task_name,
            execution_id,
            exc_info=True,
        )


def enqueue_dispatch_on_commit(execution_id: str, countdown: float | None = None) -> None:
    transaction.on_commit(lambda: _publish(DISPATCH_TASK, execution_id, countdown))


def enqueue_webhook_on_commit(execution_id: str, countdown: float | None = None) -> None:
    transaction.on_commit(lambda: _publish(WEBHOOK_TASK, execution_id, countdown))
