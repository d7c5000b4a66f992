"""Celery tasks of the sessions app: thin, idempotent."""

from __future__ import annotations

from celery import shared_task

from sessions_app.services.lifecycle import sessions_expire


@shared_task(name="sessions_app.tasks.expire_sessions", ignore_result=True)
def expire_sessions() -> dict[str, int]:
    """Beat: end what outlived its connect TTL or maximum duration, or lost its process."""
    return sessions_expire()
