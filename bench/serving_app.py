"""The ASGI app ``bench/serving.py`` serves: the project's, timing each HTTP request.

Each response carries ``Server-Timing: app;dur=<ms>``: from the request reaching the
application to its response starting, in the serving process (the client's own time and
the loopback's left out).
"""

from __future__ import annotations

import time

from agentfield_site.asgi import application as project


async def application(scope, receive, send):
    if scope["type"] != "http":
        return await project(scope, receive, send)
    began = time.perf_counter()

    async def timed_send(message):
        if message["type"] == "http.response.start":
            elapsed = (time.perf_counter() - began) * 1000
            timing = (b"server-timing", f"app;dur={elapsed:.3f}".encode())
            message = {**message, "headers": [*message.get("headers", []), timing]}
        await send(message)

    await project(scope, receive, timed_send)
