"""The node's HTTP server: the control plane POSTs reasoner and skill calls here.

``POST /reasoners/<name>`` and ``POST /skills/<name>`` need ``Authorization: Bearer
<dispatch_token>`` (the token of the node's latest registration); ``GET /health`` does not.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from agentfield.context import ExecutionContext, reset_context, set_context
from agentfield.control_plane import to_jsonable
from agentfield.targets import REASONER, SKILL, CallableTarget, InvalidInput

log = logging.getLogger("agentfield")

FindTarget = Callable[[str, str], CallableTarget | None]
CurrentToken = Callable[[], str | None]


def _error(status: int, error: str, message: str) -> web.Response:
    return web.json_response({"error": error, "message": message}, status=status)


def _bearer(request: web.Request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


class NodeHttpServer:
    def __init__(self, node_id: str, find: FindTarget, token: CurrentToken) -> None:
        self.node_id = node_id
        self._find = find
        self._token = token
        self._runner: web.AppRunner | None = None
        self.port = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/reasoners/{name}", self._call(REASONER))
        app.router.add_post("/skills/{name}", self._call(SKILL))
        app.router.add_get("/health", self._health)
        return app

    async def start(self, host: str, port: int) -> int:
        """Listen on ``host:port`` (0 picks a free port); return the port."""
        runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=5)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        return self.port

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "node_id": self.node_id})

    def _authorized(self, request: web.Request) -> bool:
        expected = self._token()
        presented = _bearer(request)
        return bool(expected and presented) and hmac.compare_digest(
            presented.encode(), expected.encode()
        )

    def _call(self, kind: str):
        async def view(request: web.Request) -> web.Response:
            if not self._authorized(request):
                return _error(401, "unauthorized", "missing or invalid dispatch token")
            name = request.match_info["name"]
            target = self._find(kind, name)
            if target is None:
                return _error(404, "not_found", f"{kind} '{name}' not found on {self.node_id}")
            try:
                body = await request.json() if request.can_read_body else None
            except ValueError:
                return _error(400, "invalid_json", "the body must be JSON")
            try:
                kwargs = target.arguments(body)
            except InvalidInput as exc:
                return _error(400, "invalid_input", str(exc))
            return await self._run(target, kwargs, ExecutionContext.from_headers(request.headers))

        return view

    async def _run(
        self, target: CallableTarget, kwargs: dict[str, Any], context: ExecutionContext
    ) -> web.Response:
        token = set_context(context)
        started = time.monotonic()
        try:
            result = await target.invoke(kwargs)
        except Exception as exc:
            # A failure of the work, not of the node: 422, which the control plane records
            # as failed without calling again (it retries 5xx).
            log.exception("%s %s.%s failed", target.kind, self.node_id, target.name)
            return _error(422, f"{target.kind}_failed", f"{type(exc).__name__}: {exc}"[:2000])
        finally:
            reset_context(token)
        log.debug(
            "%s %s.%s ran in %.0f ms (execution %s)",
            target.kind,
            self.node_id,
            target.name,
            (time.monotonic() - started) * 1000,
            context.execution_id or "-",
        )
        text = json.dumps(to_jsonable(result), default=str)
        return web.Response(text=text, content_type="application/json")
