"""Real daphne processes for tests, on the test database (loopback only)."""

from __future__ import annotations

import socket
import subprocess
import time
from contextlib import contextmanager, suppress
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
    """A daphne process serving the project; stopped (whole group) afterwards.

    It serves a socket this process binds and hands over (``--fd``): connections made
    before daphne is up wait in the socket's queue, so the first ``/healthz`` request is
    answered as soon as the server can answer it.
    """
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    log_path = TEST_VAR_DIR / f"daphne-{name}.log"
    log = log_path.open("w")
    ws_bytes = int(
        env.get("AGENTFIELD_MAX_WS_MESSAGE_BYTES", settings.AGENTFIELD_MAX_WS_MESSAGE_BYTES)
    )
    argv = daphne_argv("--fd", str(listener.fileno()), ws_message_bytes=ws_bytes)
    with listener:
        process = subprocess.Popen(
            [*argv, "agentfield_site.asgi:application"],
            cwd=ROOT,
            env=worker_env(**env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            pass_fds=(listener.fileno(),),
        )
    # only daphne holds the socket now: once it is gone, connecting is refused
    server = Server(process, port, log_path)
    try:
        _wait_until_healthy(server, time.monotonic() + START_TIMEOUT)
        yield server
    finally:
        stop_process_groups([process], grace=10)
        log.close()


def _wait_until_healthy(server: Server, deadline: float) -> None:
    """Each request waits (queued) for daphne's answer; a refused or reset connection means
    daphne exited, which ``poll`` then reports."""
    while True:
        remaining = deadline - time.monotonic()
        if server.process.poll() is not None or remaining <= 0:
            raise RuntimeError(f"daphne did not start:\n{server.log()}")
        try:
            if httpx.get(f"{server.base_url}/healthz", timeout=remaining).status_code == 200:
                return
        except httpx.HTTPError:
            with suppress(subprocess.TimeoutExpired):  # wait for the exit, not a while
                server.process.wait(timeout=1)
