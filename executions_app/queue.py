"""Enqueueing Celery tasks after the surrounding transaction commits.

A failed publish is logged, not raised: the row is already stored as queued, and the
recovery sweep (``executions_recover``) enqueues queued rows whose message went missing.
"""

from __future__ import annotations

import logging

from django.db import transaction

log = logging.getLogger(__name__)


def _publish(task, execution_id: str, countdown: float | None) -> None:
    try:
        task.apply_async((execution_id,), countdown=countdown)
    except Exception:
        log.warning(
            "could not enqueue %s for %s; the sweep will retry",
            task.name,
            execution_id,
            exc_info=True,
        )


def enqueue_dispatch_on_commit(execution_id: str, countdown: float | None = None) -> None:
    from executions_app.tasks import dispatch_execution

    transaction.on_commit(lambda: _publish(dispatch_execution, execution_id, countdown))


def enqueue_webhook_on_commit(execution_id: str, countdown: float | None = None) -> None:
    from executions_app.tasks import deliver_webhook

    transaction.on_commit(lambda: _publish(deliver_webhook, execution_id, countdown))
