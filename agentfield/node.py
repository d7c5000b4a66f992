"""The node lifecycle: listen, register, wait for tag approval, heartbeat, open the agent
link, serve, and shut down cleanly.

``NodeLifecycle`` runs what ``Declarations`` holds; ``Agent`` adds the configuration and
the calls (``agentfield.agent``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpx

from agentfield.control_plane import ControlPlaneClient
from agentfield.declarations import Declarations
from agentfield.errors import AgentFieldError
from agentfield.http_server import NodeHttpServer
from agentfield.link import AgentLink
from agentfield.session_host import SessionHost

log = logging.getLogger("agentfield")

PENDING = "pending_approval"


def _url_host(host: str) -> str:
    if host in ("", "0.0.0.0", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _rejected_targets(node: Mapping[str, Any]) -> list[tuple[str, str, list[str]]]:
    """(kind, name, rejected tags) of the node's targets an admin rejected tags of."""
    return [
        (kind.rstrip("s"), str(target.get("id")), list(target["rejected_tags"]))
        for kind in ("reasoners", "skills", "sessions")
        for target in node.get(kind) or []
        if isinstance(target, Mapping) and target.get("rejected_tags")
    ]


class NodeLifecycle(Declarations):
    """Registration, heartbeats, the agent link and the HTTP server of a declared node."""

    # Set by Agent.__init__ before this class's __init__ runs.
    server: str
    _api_key: str
    host: str
    port: int
    callback_url: str | None
    version: str
    tags: list[str]
    description: str
    heartbeat_interval: float
    approval_poll_interval: float
    call_timeout: float
    instance_id: str

    if TYPE_CHECKING:

        async def _execute(
            self, target: str, input: dict[str, Any], session_id: str | None
        ) -> Any: ...

    def __init__(self) -> None:
        super().__init__()
        self.base_url = ""
        self.status = ""
        self.ready = asyncio.Event()
        self._dispatch_token: str | None = None
        self._pending_tags: list[str] = []
        self._client: ControlPlaneClient | None = None
        self._server: NodeHttpServer | None = None
        self._link: AgentLink | None = None
        self._host: SessionHost | None = None
        self._tasks: list[asyncio.Task] = []

    def registration_payload(self) -> dict[str, Any]:
        """The body of ``POST /api/v1/nodes/register``."""
        sessions = self.sessions
        return {
            "id": self.node_id,
            "team_id": "default",
            "base_url": self.base_url,
            "version": self.version,
            "instance_id": self.instance_id,
            "proposed_tags": self.tags,
            "reasoners": self.reasoners,
            "skills": self.skills,
            "sessions": sessions,
            "communication_config": {
                "protocols": ["http"] + (["websocket"] if self._has_handlers else []),
                "heartbeat_interval": f"{self.heartbeat_interval:g}s",
            },
            "metadata": {
                "custom": {
                    "sessions": sessions,
                    "tags": self.tags,
                    "description": self.description,
                    "sdk": {"language": "python", "name": "agentfield"},
                }
            },
        }

    def run(self, *, host: str | None = None, port: int | None = None, **_: Any) -> None:
        """Serve this node until SIGINT or SIGTERM (blocking). ``host`` and ``port``
        override the constructor's; other upstream options are accepted and ignored."""
        from agentfield.runner import run

        self.host = host if host is not None else self.host
        self.port = port if port is not None else self.port
        run(self)

    async def serve(self, stop: asyncio.Event | None = None) -> None:
        """Start, serve until ``stop`` is set (or the task is cancelled), then stop."""
        from agentfield.runner import serve_all

        await serve_all([self], stop)

    async def start(self) -> None:
        """Listen, register, wait for tag approval, then heartbeat and open the agent link."""
        if self._server is not None:
            raise AgentFieldError(f"node {self.node_id} is already running")
        client = self._control_plane()
        self._server = NodeHttpServer(self.node_id, self._find_target, lambda: self._dispatch_token)
        port = await self._server.start(self.host, self.port)
        self.base_url = (self.callback_url or f"http://{_url_host(self.host)}:{port}").rstrip("/")
        log.info("%s listening on %s", self.node_id, self.base_url)
        await self._register(client)
        self._spawn(self._heartbeats(client), "heartbeats")
        await self._wait_for_approval(client)
        if self._has_handlers:
            self._host = SessionHost(self.node_id, self._sessions, self._send, self._execute)
            self._link = AgentLink(
                server=self.server,
                node_id=self.node_id,
                api_key=self._api_key,
                on_message=self._host.on_message,
            )
            self._spawn(self._link.run(), "link")
            await self._link.connected.wait()
        self.ready.set()
        log.info("%s is ready", self.node_id)

    async def stop(self) -> None:
        """End live sessions, close the link, say goodbye, stop listening. Idempotent."""
        self.ready.clear()
        if self._host is not None:
            await self._host.shutdown()
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._link is not None:
            await self._link.close()
        self._host = self._link = None
        if self._client is not None and self._dispatch_token:
            with contextlib.suppress(httpx.HTTPError, asyncio.TimeoutError):
                await asyncio.wait_for(
                    self._client.heartbeat(self.node_id, self._heartbeat_body("offline")), 3
                )
        if self._server is not None:
            await self._server.stop()
            self._server = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        self._dispatch_token = None

    def _control_plane(self) -> ControlPlaneClient:
        if self._client is None:
            if not self._api_key:
                raise AgentFieldError(
                    f"no API key for node {self.node_id}: pass api_key= or set AGENTFIELD_API_KEY"
                )
            self._client = ControlPlaneClient(
                self.server, self._api_key, call_timeout=self.call_timeout
            )
        return self._client

    def _spawn(self, coro, name: str) -> None:
        task = asyncio.create_task(coro, name=f"agentfield:{self.node_id}:{name}")
        task.add_done_callback(self._background_done)
        self._tasks.append(task)

    def _background_done(self, task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("%s: %s stopped", self.node_id, task.get_name(), exc_info=task.exception())

    async def _send(self, message: dict[str, Any]) -> None:
        if self._link is None:
            raise ConnectionError(f"the agent link of {self.node_id} is not open")
        await self._link.send(message)

    async def _register(self, client: ControlPlaneClient) -> None:
        """Register, retrying while the control plane is unreachable or failing (5xx)."""
        delay, warned = 0.5, False
        while True:
            try:
                answer = await client.register(self.registration_payload())
                break
            except httpx.HTTPError as exc:
                if not warned:
                    log.warning(
                        "%s: the control plane at %s is not reachable (%s); retrying",
                        self.node_id,
                        self.server,
                        type(exc).__name__,
                    )
                    warned = True
                await asyncio.sleep(delay)
                delay = min(5.0, delay * 2)
        self._dispatch_token = answer["dispatch_token"]
        self.status = answer.get("status") or "ready"
        self._pending_tags = list(answer.get("pending_tags") or [])
        log.info("%s registered with %s (status %s)", self.node_id, self.server, self.status)

    async def _wait_for_approval(self, client: ControlPlaneClient) -> None:
        """Poll the node until no tag is pending: every ``approval_poll_interval`` seconds
        at first, then less often (up to 5 times that)."""
        shown: list[str] | None = None
        node: dict[str, Any] | None = None
        delay = self.approval_poll_interval
        while self.status == PENDING:
            if self._pending_tags != shown:
                shown = self._pending_tags
                log.warning(
                    "%s is waiting for tag approval: %s (approve at %s/access/approvals/)",
                    self.node_id,
                    ", ".join(shown) or "-",
                    self.server,
                )
            await asyncio.sleep(delay)
            delay = min(delay * 1.25, self.approval_poll_interval * 5)
            try:
                node = await client.node(self.node_id)
            except httpx.HTTPError as exc:
                log.debug("%s: polling the approval state failed: %s", self.node_id, exc)
                continue
            self.status = str(node.get("status") or "")
            self._pending_tags = list(node.get("pending_tags") or [])
        if node is None:
            with contextlib.suppress(httpx.HTTPError, ValueError):
                node = await client.node(self.node_id)
        rejected = _rejected_targets(node or {})
        if shown is not None and not rejected:
            log.info("%s: tags approved", self.node_id)
        for kind, name, tags in rejected:
            log.warning(
                "%s: %s %s cannot be called: tags rejected: %s",
                self.node_id,
                kind,
                name,
                ", ".join(tags),
            )

    def _heartbeat_body(self, status: str) -> dict[str, Any]:
        return {"status": status, "version": self.version, "instance_id": self.instance_id}

    async def _heartbeats(self, client: ControlPlaneClient) -> None:
        failing = False
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            try:
                code = await client.heartbeat(self.node_id, self._heartbeat_body("ready"))
            except httpx.HTTPError as exc:
                if not failing:
                    log.warning("%s: heartbeat failed (%s)", self.node_id, type(exc).__name__)
                failing = True
                continue
            if code == 404:
                log.warning("%s: unknown to the control plane; registering again", self.node_id)
                await self._register(client)
            elif failing and code < 400:
                log.info("%s: heartbeats are getting through again", self.node_id)
            failing = code >= 400
