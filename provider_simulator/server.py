"""The provider simulator's HTTP server: the provider routes and the control endpoints.

Routes (loopback only):

- ``GET /v1/realtime?model=M`` WebSocket, ``Authorization: Bearer <anything>`` required.
- OpenAI's WebRTC calls (``call_routes``), the same bearer rule: ``POST /v1/realtime/calls``
  (multipart ``sdp`` + ``session``, or raw ``application/sdp``; 201, the answer SDP and
  ``Location``), the sideband ``GET /v1/realtime?call_id=rtc_...`` (WebSocket; 404
  ``call_id_not_found`` for an unknown call), ``POST /v1/realtime/calls/{call_id}/hangup``.
  A call ends on hangup, when the caller's peer goes away, or when it has not connected
  within ``call_connect_timeout``; its sidebands are then closed with code 1000.
- ``POST /v1/chat/completions`` and ``POST /v1/audio/transcriptions``: OpenRouter audio
  (``openrouter_audio``), ``Authorization: Bearer <anything>`` required.
- ``POST /control/transcripts`` ``{"transcripts": [str, ...]}``: append to the transcript FIFO.
- ``POST /control/tool-arguments`` ``{"arguments": {...}}``: arguments of the next tool call.
- ``POST /control/faults`` ``{"kind": "error"|"drop", "when": "now"|"next_response"|"next_turn"}``;
  for HTTP: ``{"kind": "http_error"|"stream_error"|"cut", "when": "next_request", "status"?,
  "message"?}``, or ``http_error`` with ``"when": "next_transcription"`` or ``"next_call"``
  (a WebRTC call creation) or ``"next_sideband"`` (its handshake: 404 ``call_id_not_found``).
  ``drop`` on a call aborts its sidebands' TCP connections; the call goes on.
- ``POST /control/pace`` ``{"pace": float}``: 0 sends audio at once, 1.0 in real time.
- A user turn's transcript: the next scripted one (``/control/transcripts``), else, with
  ``transcribe="speech"`` (``--transcribe speech``, what ``make run`` uses), the words the
  offline recognizer heard (``recognizer``), else ``speech of N milliseconds``.
- ``POST /control/call-turn`` ``{"call_id": str, "text": str}``: the call hears a user turn
  with that transcript, no audio needed (speech started/stopped, committed, transcribed,
  then the automatic response); 404 for an unknown call, 409 if its turn detection is off.
- ``GET /control/log``: ``{"events": [...]}`` client events, spoken texts, across connections;
  ``simulator.connected`` / ``simulator.disconnected`` mark each realtime connection's life,
  ``simulator.call_created`` / ``call_connected`` / ``sideband_attached`` / ``call_ended``
  (``reason``: hangup, caller left, connect timeout) each call's.
- ``POST /control/reset``: clear scripts, faults and the log; pace back to its start value.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

from aiohttp import WSMsgType, web

from provider_simulator import recognizer
from provider_simulator.call_routes import SimulatorCalls
from provider_simulator.openai_realtime import DEFAULT_MODEL, RealtimeConnection
from provider_simulator.openrouter_audio import OpenRouterAudioSimulator
from provider_simulator.state import SimulatorState

logger = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 16 * 1024 * 1024  # OpenAI accepts appends up to 15 MiB
CLOSE_TIMEOUT_S = 2.0
T = TypeVar("T")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _error_response(status: int, message: str, *, code: str = "invalid_request") -> web.Response:
    error = {"type": "invalid_request_error", "code": code, "message": message}
    return web.json_response({"error": error}, status=status)


def _bearer_token(request: web.Request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError("the body must be JSON") from exc
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return body


class ProviderSimulator:
    """A local, deterministic stand-in for OpenAI Realtime and OpenRouter audio."""

    def __init__(
        self,
        *,
        pace: float = 0.0,
        call_connect_timeout: float = 30.0,
        max_calls: int = 1000,
        transcribe: str = "duration",
    ) -> None:
        self.state = SimulatorState(pace=pace, transcribe=transcribe)
        self.calls = SimulatorCalls(
            self.state, connect_timeout=call_connect_timeout, max_calls=max_calls
        )
        self.host = "127.0.0.1"
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._sockets: set[web.WebSocketResponse] = set()
        self._warm_up: asyncio.Task[None] | None = None

    @property
    def base_url(self) -> str:
        """The OpenAI-style API base, e.g. ``http://127.0.0.1:PORT/v1``."""
        return f"http://{self.host}:{self.port}/v1"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}/v1/realtime"

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v1/realtime", self._realtime)
        self.calls.mount(app)
        OpenRouterAudioSimulator(self.state).mount(app)
        app.router.add_post("/control/transcripts", self._control(self._post_transcripts))
        app.router.add_post("/control/tool-arguments", self._control(self._post_tool_arguments))
        app.router.add_post("/control/faults", self._control(self._post_fault))
        app.router.add_post("/control/pace", self._control(self._post_pace))
        app.router.add_post("/control/reset", self._control(self._post_reset))
        app.router.add_get("/control/log", self._get_log)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Serve on ``host:port`` (loopback only; port 0 picks a free one); return the port."""
        if not is_loopback(host):
            raise ValueError(f"the provider simulator binds loopback only, not {host!r}")
        if self._runner is not None:
            raise RuntimeError("the provider simulator is already running")
        runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=CLOSE_TIMEOUT_S)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.host = host
        self.port = int(runner.addresses[0][1])
        if self.state.transcribe == "speech":  # the recognizer's model loads meanwhile
            self._warm_up = asyncio.create_task(recognizer.warm_up())
        return self.port

    async def stop(self) -> None:
        """End live calls, close live WebSockets (code 1001), stop serving; idempotent."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        if self._warm_up is not None:
            await self._warm_up
        await self.calls.end_all("simulator stopped", "simulator stopping", 1001)
        for ws in list(self._sockets):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    ws.close(code=1001, message=b"simulator stopping"), CLOSE_TIMEOUT_S
                )
        await runner.cleanup()

    # Control, for in-process callers on the simulator's loop -----------------------------

    def script_transcripts(self, transcripts: list[str]) -> None:
        self.state.script_transcripts(list(transcripts))

    def script_tool_arguments(self, arguments: dict[str, Any]) -> None:
        self.state.script_tool_arguments(arguments)

    def set_pace(self, pace: float) -> None:
        self.state.set_pace(pace)

    async def inject_fault(
        self, kind: str, when: str = "now", status: int = 0, message: str = ""
    ) -> int:
        """``now`` hits every live connection (returns how many); otherwise it is queued once."""
        return await self.state.inject_fault(kind, when, status, message)

    def log(self) -> list[dict[str, Any]]:
        return self.state.log()

    def reset(self) -> None:
        self.state.reset()

    def call_ids(self) -> list[str]:
        """The live calls."""
        return self.calls.call_ids()

    async def call_turn(self, call_id: str, text: str) -> None:
        """The call hears a user turn saying ``text`` (``KeyError``: no such call)."""
        await self.calls.call_turn(call_id, text)

    async def hang_up(self, call_id: str) -> bool:
        """End a call as ``/hangup`` does; False if there is no such call."""
        return await self.calls.hang_up(call_id)

    # The realtime WebSocket ---------------------------------------------------------------

    async def _realtime(self, request: web.Request) -> web.StreamResponse:
        if not _bearer_token(request):
            return _error_response(
                401,
                "Incorrect API key provided: send 'Authorization: Bearer <key>'.",
                code="invalid_api_key",
            )
        if "call_id" in request.query:
            if "model" in request.query:
                return _error_response(400, "Pass either 'model' or 'call_id', not both.")
            return await self.calls.sideband(request, request.query["call_id"])
        ws = web.WebSocketResponse(max_msg_size=MAX_MESSAGE_BYTES)
        if not ws.can_prepare(request).ok:
            return _error_response(400, "This endpoint expects a WebSocket upgrade.")
        await ws.prepare(request)
        transport = request.transport
        connection = RealtimeConnection(
            self.state,
            ws.send_str,
            lambda: transport.abort() if transport is not None else None,
            request.query.get("model") or DEFAULT_MODEL,
        )
        self._sockets.add(ws)
        try:
            await self._serve_connection(ws, connection)
        finally:
            self._sockets.discard(ws)
            await connection.close()
        return ws

    async def _serve_connection(
        self, ws: web.WebSocketResponse, connection: RealtimeConnection
    ) -> None:
        try:
            await connection.open()
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    await connection.handle(message.data)
                elif message.type == WSMsgType.BINARY:
                    await connection.send_error(
                        "Binary frames are not supported; send JSON text.", code="invalid_event"
                    )
                elif message.type == WSMsgType.ERROR:
                    break
                if connection.closed:
                    break
        except (ConnectionError, asyncio.CancelledError):
            pass
        except Exception:
            logger.exception("provider simulator: connection %s failed", connection.index)

    # Control endpoints --------------------------------------------------------------------

    def _control(
        self, handler: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        """Wrap a control handler: JSON body in, JSON out, 400 on bad input."""

        async def view(request: web.Request) -> web.Response:
            try:
                body = await _json_body(request) if request.can_read_body else {}
                return web.json_response(await handler(body))
            except (ValueError, TypeError) as exc:
                return _error_response(400, str(exc))

        return view

    async def _post_transcripts(self, body: dict[str, Any]) -> dict[str, Any]:
        transcripts = body.get("transcripts")
        if not isinstance(transcripts, list):
            raise ValueError("'transcripts' must be a list of strings")
        self.script_transcripts(transcripts)
        return {"queued": len(self.state.transcripts)}

    async def _post_tool_arguments(self, body: dict[str, Any]) -> dict[str, Any]:
        self.script_tool_arguments(body.get("arguments"))
        return {"queued": len(self.state.tool_arguments)}

    async def _post_fault(self, body: dict[str, Any]) -> dict[str, Any]:
        kind, when = body.get("kind"), body.get("when", "now")
        status, message = body.get("status", 0), body.get("message", "")
        if isinstance(status, bool) or not isinstance(status, int) or not isinstance(message, str):
            raise ValueError("'status' must be an integer and 'message' a string")
        applied = await self.inject_fault(kind, when, status, message)
        return {"applied": applied, "pending": len(self.state.faults)}

    async def _post_pace(self, body: dict[str, Any]) -> dict[str, Any]:
        pace = body.get("pace")
        if isinstance(pace, bool) or not isinstance(pace, int | float):
            raise ValueError("'pace' must be a number >= 0")
        self.set_pace(pace)
        return {"pace": self.state.pace}

    async def _post_reset(self, body: dict[str, Any]) -> dict[str, Any]:
        self.reset()
        return {"ok": True}

    async def _get_log(self, request: web.Request) -> web.Response:
        return web.json_response({"events": self.log()}, dumps=json.dumps)


class SimulatorHandle:
    """Thread-safe control of a simulator running on its own event loop (``running_simulator``)."""

    def __init__(self, simulator: ProviderSimulator, loop: asyncio.AbstractEventLoop) -> None:
        self.simulator = simulator
        self._loop = loop

    @property
    def port(self) -> int:
        return self.simulator.port

    @property
    def base_url(self) -> str:
        return self.simulator.base_url

    @property
    def ws_url(self) -> str:
        return self.simulator.ws_url

    def _run(self, call: Callable[[], Awaitable[T]]) -> T:
        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(timeout=10)

    def _sync(self, call: Callable[[], T]) -> T:
        async def run() -> T:
            return call()

        return self._run(run)

    def script_transcripts(self, transcripts: list[str]) -> None:
        self._sync(lambda: self.simulator.script_transcripts(list(transcripts)))

    def script_tool_arguments(self, arguments: dict[str, Any]) -> None:
        self._sync(lambda: self.simulator.script_tool_arguments(arguments))

    def set_pace(self, pace: float) -> None:
        self._sync(lambda: self.simulator.set_pace(pace))

    def inject_fault(self, kind: str, when: str = "now", status: int = 0, message: str = "") -> int:
        return self._run(lambda: self.simulator.inject_fault(kind, when, status, message))

    def log(self) -> list[dict[str, Any]]:
        return self._sync(self.simulator.log)

    def reset(self) -> None:
        self._sync(self.simulator.reset)

    def call_ids(self) -> list[str]:
        return self._sync(self.simulator.call_ids)

    def call_turn(self, call_id: str, text: str) -> None:
        self._run(lambda: self.simulator.call_turn(call_id, text))

    def hang_up(self, call_id: str) -> bool:
        return self._run(lambda: self.simulator.hang_up(call_id))


@contextlib.contextmanager
def running_simulator(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    pace: float = 0.0,
    call_connect_timeout: float = 30.0,
    transcribe: str = "duration",
) -> Iterator[SimulatorHandle]:
    """Run a ``ProviderSimulator`` in a background thread with its own event loop.

    For sync tests and for servers in other processes (point them at ``handle.base_url``).
    """
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="provider-simulator", daemon=True)
    thread.start()
    simulator = ProviderSimulator(
        pace=pace, call_connect_timeout=call_connect_timeout, transcribe=transcribe
    )
    try:
        asyncio.run_coroutine_threadsafe(simulator.start(host, port), loop).result(timeout=10)
        yield SimulatorHandle(simulator, loop)
    finally:
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(simulator.stop(), loop).result(timeout=15)
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(loop.shutdown_default_executor(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        if not thread.is_alive():
            loop.close()
