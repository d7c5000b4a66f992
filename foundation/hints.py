"""Channel-layer hints: sends that may be lost, because every waiter re-reads the database.

Inside daphne, ``async_to_sync`` runs the send on the server's own event loop (where the
in-memory layer's waiters live). A Celery worker has no loop; there each send would build
a loop and a Redis connection, so worker processes keep one background loop instead and
hand sends to it without waiting.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

log = logging.getLogger(__name__)

_loop: asyncio.AbstractEventLoop | None = None
_loop_pid: int | None = None
_use_background_loop = False


def use_background_loop() -> None:
    """Called once per worker process (Celery ``worker_process_init``)."""
    global _use_background_loop
    _use_background_loop = True


def _background_loop() -> asyncio.AbstractEventLoop:
    global _loop, _loop_pid
    if _loop is None or _loop_pid != os.getpid():
        _loop = asyncio.new_event_loop()
        _loop_pid = os.getpid()
        threading.Thread(target=_loop.run_forever, name="channel-hints", daemon=True).start()
    return _loop


async def _deliver(to: str, message: dict, group: bool) -> None:
    layer = get_channel_layer()
    try:
        await (layer.group_send(to, message) if group else layer.send(to, message))
    except Exception:  # a lost hint only delays a waiter until its next re-read
        log.warning("could not publish %s to %s", message.get("type"), to, exc_info=True)


def _run(to: str, message: dict, group: bool) -> None:
    if _use_background_loop:
        asyncio.run_coroutine_threadsafe(_deliver(to, message, group), _background_loop())
    else:
        async_to_sync(_deliver)(to, message, group)


def send_hint(group: str, message: dict) -> None:
    _run(group, message, group=True)


def send_to_channel(channel: str, message: dict) -> None:
    """One channel (e.g. an agent link's), from sync code; at most once, like a hint."""
    _run(channel, message, group=False)
