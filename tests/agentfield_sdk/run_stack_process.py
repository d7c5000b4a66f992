"""``make run`` (``manage.py run_stack``) as a child process of a test, on the test's
database, with no OpenAI settings (so the provider simulator answers)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from tests.process_output import ProcessOutput
from tests.worker import ROOT, TEST_VAR_DIR, worker_env


@contextmanager
def run_stack(port: int) -> Iterator[tuple[subprocess.Popen, ProcessOutput]]:
    """The stack and its output; killed (its whole process group) if still running after."""
    env = worker_env()
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        env.pop(name, None)
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_stack", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output = ProcessOutput(process, TEST_VAR_DIR / "run-stack.log")
    try:
        yield process, output
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
