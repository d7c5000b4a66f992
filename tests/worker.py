"""A real Celery worker process for tests, on the test database and the test broker."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO

from django.conf import settings
from django.db import connection

from devtools.processes import celery_worker_argv, stop_process_groups

ROOT = Path(__file__).resolve().parent.parent
TEST_VAR_DIR = ROOT / "var" / "test"
WORKER_START_TIMEOUT = 60


def test_database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


def worker_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=test_database_url(),
        SECRET_KEY=settings.SECRET_KEY,
        AGENTFIELD_VAR_DIR=str(TEST_VAR_DIR),
        AGENTFIELD_ALLOW_PRIVATE_WEBHOOKS="true",
        AGENTFIELD_DISPATCH_RETRY_BASE="0.05",
        AGENTFIELD_WEBHOOK_RETRY_BASE="0.05",
        AGENTFIELD_WEBRTC_ICE_HOSTS="127.0.0.1",  # WebRTC peers offer loopback only
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


@contextmanager
def celery_worker(name: str = "w1", concurrency: int = 2, **env: str):
    """Start a worker, wait until it says it is ready, and stop its whole process group after.

    Its output goes through a pipe to its log file, line by line; the line with ``ready.``
    (or the pipe's end, if the worker exits first) is the event the start waits for.
    """
    log_path = TEST_VAR_DIR / f"worker-{name}.log"
    argv = celery_worker_argv(
        concurrency=concurrency,
        hostname=f"{name}-{os.getpid()}@%h",
        extra=["--pool", "prefork", "--without-gossip", "--without-mingle", "--without-heartbeat"],
    )
    process = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=worker_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    output = LogPipe(process.stdout, log_path, until="ready.")
    try:
        if not output.seen.wait(WORKER_START_TIMEOUT) or not output.found:
            raise RuntimeError(f"celery worker did not start:\n{log_path.read_text()}")
        yield process
    finally:
        stop_worker(process)
        output.close()


class LogPipe:
    """Copies a process's output to ``log_path`` as it comes, in a thread; ``seen`` is set
    at the first line containing ``until`` (``found``), or at the end of the output."""

    def __init__(self, stream: IO[bytes], log_path: Path, until: str) -> None:
        self.seen = threading.Event()
        self.found = False
        self._log = log_path.open("wb")
        self._until = until.encode()
        self._thread = threading.Thread(target=self._copy, args=(stream,), daemon=True)
        self._thread.start()

    def _copy(self, stream: IO[bytes]) -> None:
        with stream:
            for line in stream:
                self._log.write(line)
                self._log.flush()
                if self._until in line and not self.found:
                    self.found = True
                    self.seen.set()
        self.seen.set()

    def close(self) -> None:
        """Once the process group is gone (its output has ended)."""
        self._thread.join(10)
        self._log.close()


def stop_worker(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    """SIGTERM: an orderly stop of the whole group. SIGKILL: the whole group dies at once."""
    if sig == signal.SIGKILL:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    else:
        stop_process_groups([process], grace=15)
