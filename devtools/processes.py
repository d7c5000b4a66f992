"""Starting and stopping the stack's processes (``make run``, the tests, the benchmarks),
and the supervision ``make run`` gives its children."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

MAX_RESTARTS = 20


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


def _die_with_parent() -> None:
    """Runs in the child before exec: if the supervisor dies, the kernel ends the child too."""
    import ctypes

    pr_set_pdeathsig = 1
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


@dataclass
class Child:
    """One supervised process, in its own process group."""

    name: str
    argv: list[str]
    env: dict[str, str] | None = None
    essential: bool = True  # when it exits, the whole stack stops
    # Started again when it exits: Celery's worker can die when its broker restarts
    # (kombu fails to reconnect after a late ack on the lost connection); work waits in
    # the broker or is re-enqueued by the recovery sweep, so a new worker loses nothing.
    restart: bool = False
    process: subprocess.Popen | None = None
    exit_reported: bool = False
    restarts: int = 0

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.argv, env=self.env, start_new_session=True, preexec_fn=_die_with_parent
        )


class ChildExited(Exception):
    """An essential child exited: the stack stops."""


def check_children(children: Iterable[Child], warn: Callable[[str], None]) -> None:
    """A worker is started again; another essential child that exits raises ``ChildExited``;
    the demo only gets a warning."""
    for child in children:
        code = child.process.poll()
        if code is None or child.exit_reported:
            continue
        if child.restart and child.restarts < MAX_RESTARTS:
            child.restarts += 1
            warn(f"{child.name} exited with code {code}; starting it again")
            child.start()
            continue
        if child.essential:
            raise ChildExited(f"{child.name} exited with code {code}")
        warn(f"{child.name} exited with code {code}; the rest keeps running")
        child.exit_reported = True


def stop_children(children: Iterable[Child]) -> None:
    """The demo node first, so it says goodbye while the control plane still listens."""
    started = [c for c in children if c.process]
    stop_process_groups(c.process for c in started if not c.essential)
    stop_process_groups(c.process for c in started if c.essential)
