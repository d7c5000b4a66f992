"""Reading ``text/event-stream`` responses in tests: frames from a real HTTP client's body,
and one GET through the project's ASGI application in this process (to look at the
serving process's channel layer)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx


def stream_url(session_id: str) -> str:
    return f"/api/v1/session-instances/{session_id}/events/stream"


async def sse_frames(chunks: AsyncIterator[str]) -> AsyncIterator[str]:
    """Each frame of a ``text/event-stream`` body, until the body ends."""
    buffer = ""
    async for chunk in chunks:
        buffer += chunk
        while "\n\n" in buffer:
            frame, buffer = buffer.split("\n\n", 1)
            yield frame
    assert buffer == "", f"the stream ended inside a frame: {buffer!r}"


def message_of(frame: str) -> dict:
    assert frame.startswith("data: ") and "\n" not in frame, frame
    return json.loads(frame.removeprefix("data: "))


async def messages_until_end(response: httpx.Response, timeout: float = 30) -> list[dict]:
    """Every message of the stream (keepalives skipped) until the server ends it."""
    messages = []
    async with asyncio.timeout(timeout):
        async for frame in sse_frames(response.aiter_text()):
            if not frame.startswith(":"):
                messages.append(message_of(frame))
    return messages


def assert_stream_headers(response: httpx.Response) -> None:
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    assert "content-length" not in response.headers


class AsgiReader:
    """One GET through ``agentfield_site.asgi.application`` in this process: the response
    as it is sent, and a client disconnect when asked."""

    def __init__(self, path: str, secret: str) -> None:
        from agentfield_site.asgi import application

        self.scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"testserver"), (b"x-api-key", secret.encode())],
            "client": ("127.0.0.1", 40000),
            "server": ("127.0.0.1", 80),
        }
        self.application = application
        self.sent: asyncio.Queue[dict] = asyncio.Queue()
        self.gone = asyncio.Event()
        self._requested = False
        self.task: asyncio.Task | None = None

    async def _receive(self) -> dict:
        if not self._requested:
            self._requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def open(self) -> dict:
        self.task = asyncio.ensure_future(
            self.application(self.scope, self._receive, self.sent.put)
        )
        async with asyncio.timeout(10):
            return await self.sent.get()

    async def body(self, timeout: float = 10) -> bytes:
        async with asyncio.timeout(timeout):
            message = await self.sent.get()
        assert message["type"] == "http.response.body"
        return message.get("body", b"")

    async def disconnect(self) -> None:
        self.gone.set()
        async with asyncio.timeout(10):
            await self.task
