"""A minimal real agent node for benchmarks: one reasoner that works for a fixed time.

``python bench/agent_node.py PORT WORK_MS`` serves ``POST /reasoners/work`` and answers
``{"reasoner_ms": <its own time>}``; ``GET /stats`` tells how often each execution came.
An asyncio server with keep-alive and one write per response, so the node's own HTTP
handling (which counts as "beyond the reasoner") stays small, as in a production node.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter

seen: Counter[str] = Counter()


def response(status: int, payload: object) -> bytes:
    body = json.dumps(payload).encode()
    head = (
        f"HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            started = time.perf_counter()
            lines = head.decode("latin1").split("\r\n")
            method = lines[0].split(" ", 1)[0]
            headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
            await reader.readexactly(int(headers.get("content-length") or 0))
            if method == "POST":
                seen[headers.get("x-execution-id", "")] += 1
                await asyncio.sleep(WORK_MS / 1000)
                reply = {"reasoner_ms": (time.perf_counter() - started) * 1000}
                writer.write(response(200, reply))
            else:
                duplicates = sum(1 for count in seen.values() if count > 1)
                writer.write(response(200, {"executions": len(seen), "duplicates": duplicates}))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    PORT, WORK_MS = int(sys.argv[1]), float(sys.argv[2])
    asyncio.run(main(PORT))
