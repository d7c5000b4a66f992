"""A real HTTP agent node for tests: scripted reasoners on a loopback port.

It records every request (path, headers, body) so tests can check what the control plane
sent and that nothing was sent twice.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Call:
    path: str
    headers: dict[str, str]
    body: Any
    at: float


Reply = tuple[int, Any]
Behaviour = Callable[["AgentDouble", Call], Reply]


@dataclass
class AgentDouble:
    behaviours: dict[str, Behaviour] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def calls_to(self, name: str) -> list[Call]:
        return [c for c in self.calls if c.path.rsplit("/", 1)[-1] == name]

    def start(self) -> AgentDouble:
        double = self

        class Handler(BaseHTTPRequestHandler):
            def setup(self):
                super().setup()
                self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode(errors="replace")
                call = Call(self.path, dict(self.headers.items()), body, time.monotonic())
                double.calls.append(call)
                name = self.path.rsplit("/", 1)[-1]
                behaviour = double.behaviours.get(name)
                status, payload = behaviour(double, call) if behaviour else (404, {"error": name})
                if status is None:  # hang up without an answer, as a crashing node would
                    self.close_connection = True
                    return
                # bytes go out as they are (for answers json.dumps would not write)
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.release.set()
        if self.server:
            self.server.shutdown()
            self.server.server_close()


def echo(double: AgentDouble, call: Call) -> Reply:
    return 200, {"echo": call.body}


def held(double: AgentDouble, call: Call) -> Reply:
    """Answers only once the test sets ``double.release`` (or after 60 s)."""
    double.release.wait(60)
    return 200, {"released": True}


def unprocessable(double: AgentDouble, call: Call) -> Reply:
    return 422, {"detail": "turn is missing"}


def unavailable(double: AgentDouble, call: Call) -> Reply:
    return 503, {"detail": "overloaded"}


def flaky(double: AgentDouble, call: Call) -> Reply:
    """503 for the first two calls, then success."""
    return (503, {"detail": "warming up"}) if len(double.calls_to("flaky")) <= 2 else (200, "ok")


def hang_up(double: AgentDouble, call: Call) -> Reply:
    return None, None


def accepted(double: AgentDouble, call: Call) -> Reply:
    return 202, {"status": "processing", "execution_id": call.headers.get("X-Execution-ID")}
