"""Celery tasks: thin and idempotent; the services hold the logic."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from celery.signals import worker_process_init, worker_ready

from executions_app.queue import DISPATCH_TASK, WEBHOOK_TASK
from executions_app.services.dispatch import execution_dispatch, executions_recover
from executions_app.services.webhooks import webhook_deliver
from foundation import hints


@shared_task(
    name=DISPATCH_TASK, bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True
)
def dispatch_execution(self, execution_id: str) -> None:
    countdown = execution_dispatch(execution_id)
    if countdown is not None:
        # A new message for the next attempt; this one is acknowledged. The row is queued
        # again, so a lost retry message is picked up by the recovery sweep.
        dispatch_execution.apply_async((execution_id,), countdown=countdown)


@shared_task(name=WEBHOOK_TASK, acks_late=True, ignore_result=True)
def deliver_webhook(execution_id: str) -> None:
    countdown = webhook_deliver(execution_id)
    if countdown is not None:
        deliver_webhook.apply_async((execution_id,), countdown=countdown)


@shared_task(ignore_result=True)
def recover_executions() -> dict[str, int]:
    return executions_recover()


@worker_process_init.connect
def hints_from_a_background_loop(**kwargs) -> None:
    hints.use_background_loop()


@worker_ready.connect
def recover_on_worker_start(**kwargs) -> None:
    """A worker that starts after a crash settles what the dead one left behind at once."""
    executions_recover(requeue_grace=timedelta(0))
