"""Starting and stopping the stack's processes (``make run``, the tests, the benchmarks),
and the supervision ``make run`` gives its children. daphne's command line and the
stopping of process groups live in ``agentfield_site.web_processes`` (production code
uses them too); they are re-exported here."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from agentfield_site.web_processes import (
    DAPHNE_WS_HEADROOM,
    daphne_argv,
    die_with_parent,
    stop_process_groups,
)

__all__ = [
    "DAPHNE_WS_HEADROOM",
    "Child",
    "ChildExited",
    "celery_worker_argv",
    "check_children",
    "daphne_argv",
    "stop_children",
    "stop_process_groups",
]

MAX_RESTARTS = 20
# What a child with a log file still shows on the terminal: warnings, errors, tracebacks.
WARNINGS = re.compile(r"\b(WARNING|ERROR|CRITICAL|Traceback)\b")


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
    # With a log file, everything the child prints goes there; the terminal (``echo``)
    # gets only the lines ``shown`` matches, prefixed with the child's name.
    log_path: Path | None = None
    shown: re.Pattern = WARNINGS
    echo: TextIO = field(default_factory=lambda: sys.stderr)
    process: subprocess.Popen | None = None
    exit_reported: bool = False
    restarts: int = 0

    def start(self) -> None:
        if self.log_path is None:
            self.process = subprocess.Popen(
                self.argv, env=self.env, start_new_session=True, preexec_fn=die_with_parent()
            )
            return
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = dict(self.env if self.env is not None else os.environ, PYTHONUNBUFFERED="1")
        self.process = subprocess.Popen(
            self.argv,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
            start_new_session=True,
            preexec_fn=die_with_parent(),
        )
        mode = "a" if self.restarts else "w"  # a fresh log per run; a restart appends
        copy = threading.Thread(target=self._copy_output, args=(self.process.stdout, mode))
        copy.daemon = True
        copy.start()

    def _copy_output(self, stream: TextIO, mode: str) -> None:
        """Every line to the log file; the ones ``shown`` matches to the terminal too."""
        with open(self.log_path, mode, encoding="utf-8") as log:
            for line in stream:
                log.write(line)
                log.flush()
                if self.shown.search(line):
                    self.echo.write(f"[{self.name}] {line}")
                    self.echo.flush()


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
