"""Channel-layer hints that an execution ended. Hints only: waiters re-read the row."""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

log = logging.getLogger(__name__)


def execution_group(execution_id: str) -> str:
    return f"execution.{execution_id}"


def notify_execution_ended_on_commit(execution_id: str, status: str) -> None:
    def send() -> None:
        try:
            async_to_sync(get_channel_layer().group_send)(
                execution_group(execution_id),
                {"type": "execution.ended", "execution_id": execution_id, "status": status},
            )
        except Exception:  # a lost hint only delays a waiter until its next re-read
            log.warning("could not publish the end of %s", execution_id, exc_info=True)

    transaction.on_commit(send)
