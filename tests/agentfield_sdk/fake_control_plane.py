"""A scripted stand-in for the control plane's node-facing routes, for in-process SDK tests.

It speaks the same routes and bodies as the real one (API.md sections 2, 4 and 7) and records
what the node sent; tests script the approval state, execute answers and link messages.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

ExecuteReply = Callable[[str, dict[str, Any], dict[str, str]], tuple[int, Any]]
PROBE_SESSION = "sess_probe"


async def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until ``check()`` holds; ``timeout`` is only the failsafe."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeControlPlane:
    api_key: str = "af_test_key"
    status: str = "ready"
    pending_tags: list[str] = field(default_factory=list)
    node_extra: dict[str, Any] = field(default_factory=dict)
    execute_reply: ExecuteReply | None = None
    requests: list[Request] = field(default_factory=list)
    registrations: int = 0
    link_messages: asyncio.Queue = field(default_factory=asyncio.Queue)
    links_opened: int = 0
    _links: list[web.WebSocketResponse] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def dispatch_token(self) -> str:
        return f"dispatch-token-{self.registrations}"

    async def start(self) -> FakeControlPlane:
        app = web.Application()
        app.router.add_post("/api/v1/nodes/register", self._register)
        app.router.add_get("/api/v1/nodes/{node_id}", self._node)
        app.router.add_post("/api/v1/nodes/{node_id}/heartbeat", self._heartbeat)
        app.router.add_post("/api/v1/execute/{target}", self._execute)
        app.router.add_get("/api/v1/nodes/{node_id}/link", self._link)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        for ws in list(self._links):
            with contextlib.suppress(Exception):
                await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def requests_to(self, suffix: str) -> list[Request]:
        return [r for r in self.requests if r.path.endswith(suffix)]

    async def _record(self, request: web.Request) -> Request:
        body = await request.json() if request.can_read_body else None
        recorded = Request(request.path, dict(request.headers), body)
        self.requests.append(recorded)
        return recorded

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("X-API-Key") == self.api_key

    async def _register(self, request: web.Request) -> web.Response:
        await self._record(request)
        if not self._authorized(request):
            return web.json_response({"error": "unauthorized"}, status=401)
        self.registrations += 1
        return web.json_response(
            {
                "success": True,
                "message": "Node registered successfully",
                "node_id": (await request.json())["id"],
                "status": self.status,
                "pending_tags": self.pending_tags,
                "approved_tags": [],
                "dispatch_token": self.dispatch_token,
            },
            status=201,
        )

    async def _node(self, request: web.Request) -> web.Response:
        await self._record(request)
        node_id = request.match_info["node_id"]
        body = {"id": node_id, "status": self.status, "pending_tags": self.pending_tags}
        return web.json_response({**body, **self.node_extra})

    async def _heartbeat(self, request: web.Request) -> web.Response:
        await self._record(request)
        return web.json_response({"success": True, "message": "heartbeat received"})

    async def _execute(self, request: web.Request) -> web.Response:
        recorded = await self._record(request)
        target = request.match_info["target"]
        reply = self.execute_reply or (lambda *_: (200, {"status": "succeeded", "result": {}}))
        status, body = reply(target, recorded.body, recorded.headers)
        return web.json_response(body, status=status)

    async def _link(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            return web.json_response({"error": "unauthorized"}, status=401)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._links.append(ws)
        self.links_opened += 1
        await ws.send_json({"type": "link.ready", "node_id": request.match_info["node_id"]})
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                await self.link_messages.put(message.json())
        self._links.remove(ws)
        return ws

    async def to_node(self, message: dict[str, Any]) -> None:
        """Send a message to the node over its newest link."""
        await self._links[-1].send_json(message)

    async def drop_links(self) -> None:
        for ws in list(self._links):
            await ws.close()

    async def next_from_node(self, timeout: float = 5) -> dict[str, Any]:
        return await asyncio.wait_for(self.link_messages.get(), timeout)

    async def nothing_more_from_node(self) -> None:
        """Assert the node sent nothing since the last message read, without a quiet window.

        A turn for a session the node does not run makes it answer ``session.error`` over
        the same link; the link is ordered, so that answer arriving next proves nothing
        was sent before it.
        """
        await self.to_node(
            {"type": "session.input", "session_id": PROBE_SESSION, "turn": {"text": "probe"}}
        )
        answer = await self.next_from_node()
        assert answer["type"] == "session.error" and answer["session_id"] == PROBE_SESSION, answer
        assert self.link_messages.empty()
