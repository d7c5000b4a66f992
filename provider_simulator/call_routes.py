"""OpenAI's WebRTC call API, simulated: create a call, join it by call id, hang it up.

- ``POST /v1/realtime/calls``: ``multipart/form-data`` with parts ``sdp`` (the offer) and
  ``session`` (JSON, ``"type": "realtime"``), or a raw ``application/sdp`` body (the default
  session). ``201``, the answer SDP, ``Location: /v1/realtime/calls/rtc_<hex>``.
- ``GET /v1/realtime?call_id=rtc_...`` (WebSocket): the sideband (``sideband``).
- ``POST /v1/realtime/calls/{call_id}/hangup``: ``200``, empty body.
- ``POST /control/call-turn`` ``{"call_id", "text"}``: a user turn without media.

The ``http_error`` fault with ``"when": "next_call"`` answers the next call creation with its
status and message; with ``"when": "next_sideband"``, the next sideband handshake of a live
call gets ``404 call_id_not_found`` (what OpenAI answers a call it will not let be joined).

Errors have OpenAI's shape ``{"error": {"type", "code", "message", "param"}}``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from typing import Any

from aiohttp import WSMsgType, web

from provider_simulator.call import HANGUP, InvalidOffer, SimulatedCall
from provider_simulator.openai_realtime.session_config import validate_session_patch
from provider_simulator.openai_realtime.wire import ClientEventError
from provider_simulator.state import SimulatorState

logger = logging.getLogger(__name__)

MAX_CALLS = 1000
MAX_SIDEBANDS = 8  # per call
MAX_OFFER_BYTES = 64 * 1024
MAX_SESSION_BYTES = 256 * 1024
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
NOT_FOUND = "No session found for the provided call_id"


def error_response(
    status: int, message: str, *, code: str = "invalid_request", param: str | None = None
) -> web.Response:
    error = {"type": "invalid_request_error", "code": code, "message": message, "param": param}
    return web.json_response({"error": error}, status=status)


def bearer_missing() -> web.Response:
    return error_response(
        401,
        "Incorrect API key provided: send 'Authorization: Bearer <key>'.",
        code="invalid_api_key",
    )


def has_bearer(request: web.Request) -> bool:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and bool(token.strip())


def call_not_found() -> web.Response:
    return error_response(404, NOT_FOUND, code="call_id_not_found", param="call_id")


class BadCall(Exception):
    def __init__(self, message: str, param: str | None = None, code: str = "invalid_request"):
        super().__init__(message)
        self.param, self.code = param, code


class SimulatorCalls:
    """The live calls of one simulator, and their routes."""

    def __init__(
        self, state: SimulatorState, *, connect_timeout: float = 30.0, max_calls: int = MAX_CALLS
    ) -> None:
        self.state = state
        self.connect_timeout = float(connect_timeout)
        self.max_calls = max_calls
        self.calls: dict[str, SimulatedCall] = {}

    def mount(self, app: web.Application) -> None:
        app.router.add_post("/v1/realtime/calls", self._create)
        app.router.add_post("/v1/realtime/calls/{call_id}/hangup", self._hangup)
        app.router.add_post("/control/call-turn", self._post_call_turn)

    # In-process control ------------------------------------------------------------------

    def call_ids(self) -> list[str]:
        return list(self.calls)

    async def hang_up(self, call_id: str) -> bool:
        call = self.calls.get(call_id)
        if call is None:
            return False
        await call.end(HANGUP, "the call was hung up")
        return True

    async def call_turn(self, call_id: str, text: str) -> None:
        """``KeyError``: no such call; ``ValueError``: no text; ``ClientEventError``: the
        call cannot hear a turn (its turn detection is off)."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError("'text' must be a non-empty string")
        call = self.calls.get(call_id) if isinstance(call_id, str) else None
        if call is None:
            raise KeyError(call_id)
        await call.spoken_turn(text)

    async def _post_call_turn(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
            await self.call_turn(body.get("call_id"), body.get("text"))
        except KeyError:
            return call_not_found()
        except ClientEventError as exc:
            return error_response(409, str(exc), code=exc.code)
        except (ValueError, UnicodeDecodeError) as exc:
            return error_response(400, str(exc))
        return web.json_response({"ok": True})

    async def end_all(self, reason: str, message: str, code: int) -> None:
        calls = list(self.calls.values())
        if calls:
            await asyncio.gather(*(call.end(reason, message, code) for call in calls))

    # POST /v1/realtime/calls -------------------------------------------------------------

    async def _create(self, request: web.Request) -> web.Response:
        if not has_bearer(request):
            return bearer_missing()
        fault = self.state.pop_fault("next_call")
        if fault is not None:  # only http_error takes next_call
            message = fault.message or "simulated call creation failure"
            return error_response(fault.status or 500, message, code="simulated_error")
        if len(self.calls) >= self.max_calls:
            message = f"Too many live calls (at most {self.max_calls}); hang one up first."
            return error_response(429, message, code="rate_limit_exceeded")
        try:
            sdp, session = await self._offer(request)
        except BadCall as exc:
            return error_response(400, str(exc), code=exc.code, param=exc.param)
        except ClientEventError as exc:
            return error_response(400, str(exc), code=exc.code, param=exc.param or None)
        call_id = f"rtc_{secrets.token_hex(16)}"
        call = SimulatedCall(
            call_id,
            self.state,
            session,
            connect_timeout=self.connect_timeout,
            on_end=lambda ended: self.calls.pop(ended.call_id, None),
        )
        self.calls[call_id] = call
        try:
            answer = await call.answer(sdp)
        except InvalidOffer as exc:
            await call.end("invalid offer", "invalid offer")
            return error_response(400, f"Invalid SDP offer: {exc}", param="sdp")
        except BaseException:  # the caller went away mid-offer, or aiortc failed
            await asyncio.shield(call.end("offer abandoned", "offer abandoned"))
            raise
        return web.Response(
            status=201,
            body=answer.encode(),
            content_type="application/sdp",
            headers={"Location": f"/v1/realtime/calls/{call_id}"},
        )

    async def _offer(self, request: web.Request) -> tuple[str, dict[str, Any]]:
        """The offer SDP and the session patch: multipart, or a raw ``application/sdp``."""
        if request.content_type == "application/sdp":
            return sdp_text(await read_limited(request, MAX_OFFER_BYTES)), {}
        if request.content_type != "multipart/form-data":
            raise BadCall(
                "Unsupported content type: send multipart/form-data (parts 'sdp' and "
                "'session') or application/sdp."
            )
        parts: dict[str, bytes] = {}
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            name = getattr(part, "name", None)
            if name in ("sdp", "session") and name not in parts:
                limit = MAX_OFFER_BYTES if name == "sdp" else MAX_SESSION_BYTES
                parts[name] = await read_part(part, name, limit)
        if "sdp" not in parts:
            raise BadCall("Missing required parameter: 'sdp'.", param="sdp")
        session: Any = {}
        if "session" in parts:
            try:
                session = json.loads(parts["session"])
            except ValueError:
                raise BadCall("The 'session' part must be JSON.", param="session") from None
            validate_session_patch(session)
        return sdp_text(parts["sdp"]), session

    # POST /v1/realtime/calls/{call_id}/hangup --------------------------------------------

    async def _hangup(self, request: web.Request) -> web.Response:
        if not has_bearer(request):
            return bearer_missing()
        if not await self.hang_up(request.match_info["call_id"]):
            return call_not_found()
        return web.Response(status=200)

    # GET /v1/realtime?call_id=... --------------------------------------------------------

    async def sideband(self, request: web.Request, call_id: str) -> web.StreamResponse:
        """Join a live call (the caller checked the bearer); 404 before any upgrade."""
        call = self.calls.get(call_id)
        if call is None or call.ended:
            return call_not_found()
        if self.state.pop_fault("next_sideband") is not None:  # OpenAI's documented pitfall
            return call_not_found()
        if len(call.sidebands) >= MAX_SIDEBANDS:
            return error_response(429, "Too many sidebands on this call.", code="too_many")
        ws = web.WebSocketResponse(max_msg_size=MAX_MESSAGE_BYTES)
        if not ws.can_prepare(request).ok:
            return error_response(400, "This endpoint expects a WebSocket upgrade.")
        await ws.prepare(request)
        if call.ended:
            await ws.close(code=1000, message=b"the call has ended")
            return ws
        try:
            await call.attach(ws, request.transport)
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    await call.handle(message.data)
                elif message.type == WSMsgType.BINARY:
                    await ws.send_str(binary_refused(call.state))
                elif message.type == WSMsgType.ERROR:
                    break
        except (ConnectionError, asyncio.CancelledError):
            pass
        except Exception:
            logger.exception("provider simulator: a sideband of %s failed", call_id)
        finally:
            call.detach(ws)
        return ws


def binary_refused(state: SimulatorState) -> str:
    error = {
        "type": "invalid_request_error",
        "code": "invalid_event",
        "message": "Binary frames are not supported; send JSON text.",
        "param": None,
        "event_id": None,
    }
    return json.dumps({"event_id": state.new_id("event"), "type": "error", "error": error})


async def read_limited(request: web.Request, limit: int) -> bytes:
    data = await request.content.read(limit + 1)
    if len(data) > limit:
        raise BadCall("The SDP offer is too large.", param="sdp")
    return data


async def read_part(part: Any, name: str, limit: int) -> bytes:
    data = bytearray()
    while chunk := await part.read_chunk():
        data += chunk
        if len(data) > limit:
            raise BadCall(f"The '{name}' part is too large.", param=name)
    return bytes(data)


def sdp_text(data: bytes) -> str:
    try:
        sdp = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadCall("Invalid SDP offer: it is not UTF-8 text.", param="sdp") from None
    if not sdp.strip():
        raise BadCall("Missing required parameter: 'sdp'.", param="sdp")
    return sdp
