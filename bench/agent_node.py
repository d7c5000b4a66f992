"""A minimal real agent node for benchmarks: one reasoner that works for a fixed time.

``python bench/agent_node.py PORT WORK_MS`` serves ``POST /reasoners/work`` and answers
``{"reasoner_ms": <its own time>}``; ``GET /stats`` tells how often each execution came.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

seen: Counter[str] = Counter()
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real node would

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without this, Nagle + delayed ACK add ~40 ms.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _reply(self, status: int, payload: object) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        started = time.perf_counter()
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with lock:
            seen[self.headers.get("X-Execution-ID", "")] += 1
        time.sleep(WORK_MS / 1000)
        self._reply(200, {"reasoner_ms": (time.perf_counter() - started) * 1000})

    def do_GET(self):
        with lock:
            duplicates = sum(1 for count in seen.values() if count > 1)
            self._reply(200, {"executions": len(seen), "duplicates": duplicates})

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    PORT, WORK_MS = int(sys.argv[1]), float(sys.argv[2])
    server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
    server.daemon_threads = True
    server.serve_forever()
