"""Real daphne processes for tests, on the test database (loopback only)."""

from __future__ import annotations

import socket
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
from django.conf import settings

from devtools.processes import daphne_argv, stop_process_groups
from tests.worker import ROOT, TEST_VAR_DIR, worker_env

START_TIMEOUT = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    process: subprocess.Popen
    port: int
    log_path: object

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text()


@contextmanager
def daphne_server(name: str = "d1", **env: str):
    """A daphne process serving the project; stopped (whole group) afterwards."""
    port = free_port()
    log_path = TEST_VAR_DIR / f"daphne-{name}.log"
    log = log_path.open("w")
    ws_bytes = int(
        env.get("AGENTFIELD_MAX_WS_MESSAGE_BYTES", settings.AGENTFIELD_MAX_WS_MESSAGE_BYTES)
    )
    argv = daphne_argv("-b", "127.0.0.1", "-p", str(port), ws_message_bytes=ws_bytes)
    process = subprocess.Popen(
        [*argv, "agentfield_site.asgi:application"],
        cwd=ROOT,
        env=worker_env(**env),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = Server(process, port, log_path)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"daphne did not start:\n{server.log()}")
            try:
                if httpx.get(f"{server.base_url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield server
    finally:
        stop_process_groups([process], grace=10)
        log.close()
