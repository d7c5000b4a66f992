"""Starting and stopping the stack's processes (``make run``, the tests, the benchmarks)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable


def celery_worker_argv(
    *, concurrency: int, loglevel: str = "INFO", hostname: str = "", extra: Iterable[str] = ()
) -> list[str]:
    argv = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "agentfield_site",
        "worker",
        "--loglevel",
        loglevel,
        "--concurrency",
        str(concurrency),
    ]
    if hostname:
        argv += ["--hostname", hostname]
    return [*argv, *extra]


# daphne closes a connection (1009) on a message over its own cap; ours is lower, so a
# message a little too large gets an ``error`` event from the consumer instead.
DAPHNE_WS_HEADROOM = 4


def daphne_argv(*bind: str, ws_message_bytes: int) -> list[str]:
    """``python -m daphne`` with ``bind`` (e.g. ``-b HOST -p PORT``), WebSocket caps set."""
    cap = str(ws_message_bytes * DAPHNE_WS_HEADROOM)
    return [
        sys.executable,
        "-m",
        "daphne",
        "--websocket-max-message-size",
        cap,
        "--websocket-max-frame-size",
        cap,
        *bind,
    ]


def stop_process_groups(processes: Iterable[subprocess.Popen], grace: float = 10.0) -> None:
    """SIGTERM each group leader (daphne and Celery stop their own children in order), wait
    up to ``grace`` seconds in all, then SIGKILL every whole group so nothing is left."""
    processes = list(processes)
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
