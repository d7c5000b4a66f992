"""The voice support example (``examples/voice_support/agent.py``) as a real process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from devtools.processes import stop_process_groups
from tests.worker import ROOT, TEST_VAR_DIR

EXAMPLE = ROOT / "examples" / "voice_support" / "agent.py"


@dataclass
class ExampleProcess:
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text()

    def wait_for(self, text: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the example never logged {text!r}:\n{self.log()}")
            time.sleep(0.05)

    def terminate(self, timeout: float = 10) -> int:
        """SIGTERM, as a supervisor would; the exit code."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)


@contextmanager
def example_agent(
    server: str,
    voice_key: str,
    support_key: str,
    name: str = "example",
    script: Path = EXAMPLE,
    **env: str,
) -> Iterator[ExampleProcess]:
    """Run the example (or another agent ``script``) against ``server`` with each node's
    key; stopped afterwards."""
    log_path = TEST_VAR_DIR / f"{name}.log"
    log = log_path.open("w")
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AGENTFIELD_", "DJANGO_", "DATABASE_URL", "REDIS_URL"))
    }
    environment.update(
        AGENTFIELD_SERVER=server,
        AGENTFIELD_API_KEY=voice_key,
        SUPPORT_AGENTFIELD_API_KEY=support_key,
        PYTHONUNBUFFERED="1",
        **env,
    )
    process = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=TEST_VAR_DIR,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield ExampleProcess(process, log_path)
    finally:
        stop_process_groups([process], grace=10)
        log.close()
