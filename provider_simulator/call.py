"""One simulated OpenAI WebRTC call: its aiortc peer, its realtime session, its sidebands.

The session is an ordinary ``RealtimeConnection`` (``CallConnection``) whose events fan out
to every attached sideband WebSocket and to the caller's ``oai-events`` data channel, and
whose audio travels on the peer's tracks (``call_media``) instead of as events. Client
events from a sideband or the data channel, the microphone's audio and ``call-turn`` are
handled one at a time (``lock``).

ICE is loopback only: the peer gathers host candidates on 127.0.0.1, asks no STUN server
and drops the offer's candidates that are not loopback (``IcePolicy.loopback()``). aioice
takes no per-peer option for host addresses, so the policy is the process's (``use``).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from aiohttp import web
from aiortc import RTCDataChannel, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from provider_simulator.call_media import CallAudio, pump_microphone
from provider_simulator.openai_realtime import RealtimeConnection
from provider_simulator.openai_realtime.session_config import DEFAULT_MODEL, merge_session
from provider_simulator.state import SimulatorState
from sessions_app.transports import webrtc_ice

logger = logging.getLogger(__name__)

LOOPBACK = webrtc_ice.IcePolicy.loopback()
EVENTS_LABEL = "oai-events"
MAX_OUTBOX = 200  # events kept for a data channel that is not open yet
MAX_INBOX = 100
CLOSE_S = 5.0
HANGUP = "hangup"
CALLER_LEFT = "caller left"
CONNECT_TIMEOUT = "connect timeout"


class InvalidOffer(Exception):
    """The offer SDP could not be taken (a 400)."""


class CallConnection(RealtimeConnection):
    """A realtime session bound to a call: ``drop`` cuts the sidebands, the call goes on."""

    def __init__(self, call: SimulatedCall, state: SimulatorState, model: str) -> None:
        super().__init__(state, call.fan_out, call.abort_sidebands, model)
        self.call = call

    async def apply_fault(self, kind: str) -> None:
        if kind != "drop":
            await super().apply_fault(kind)
            return
        self.state.record(self.index, {"type": "simulator.fault", "kind": kind})
        self._abort()

    def handler_for(self, type_: str) -> Callable[[Any, dict[str, Any]], Awaitable[None]] | None:
        if type_ == "output_audio_buffer.clear":
            return CallConnection._on_output_audio_clear
        return super().handler_for(type_)

    async def _on_output_audio_clear(self, event: dict[str, Any]) -> None:
        if self.audio_out is not None:
            await self.audio_out.clear(requested=True)


class SimulatedCall:
    """A call from ``POST /v1/realtime/calls`` until it ends (``end``), whoever ends it."""

    def __init__(
        self,
        call_id: str,
        state: SimulatorState,
        session: dict[str, Any],
        *,
        connect_timeout: float,
        on_end: Callable[[SimulatedCall], None],
    ) -> None:
        self.call_id = call_id
        self.state = state
        self.connect_timeout = connect_timeout
        self.sidebands: dict[web.WebSocketResponse, asyncio.Transport | None] = {}
        self.lock = asyncio.Lock()
        self.ended = False
        self._on_end = on_end
        self._channel: RTCDataChannel | None = None
        self._outbox: deque[str] = deque(maxlen=MAX_OUTBOX)
        self._inbox: asyncio.Queue[str] = asyncio.Queue(MAX_INBOX)
        self._connected = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()
        self.connection = CallConnection(self, state, session.get("model") or DEFAULT_MODEL)
        base = self.connection.session
        merged = merge_session(base, session)
        merged["id"], merged["object"] = base["id"], base["object"]
        self.connection.session = merged
        self.connection._configure_vad()
        self.audio = CallAudio(self.connection.send)
        self.connection.audio_out = self.audio
        self.generation = state.generation
        self.pc = RTCPeerConnection(webrtc_ice.use(LOOPBACK))
        self.pc.on("track", self._on_track)
        self.pc.on("datachannel", self._on_datachannel)
        self.pc.on("connectionstatechange", self._on_connection_state)
        self._mic: MediaStreamTrack | None = None
        self._answered = False
        self._wants_channel = False

    @property
    def index(self) -> int:
        return self.connection.index

    def record(self, type_: str, **fields: Any) -> None:
        """Log an entry of this call (not once the log was reset after the call began)."""
        if self.generation == self.state.generation:
            self.state.record(self.index, {"type": type_, "call_id": self.call_id, **fields})

    # Answering ---------------------------------------------------------------------------

    async def answer(self, sdp: str) -> str:
        """The answer SDP, once ICE candidates are gathered; ``InvalidOffer`` if the offer is
        not one. The call then runs until it ends."""
        sdp = webrtc_ice.remote_candidates_kept(sdp, LOOPBACK)
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        except Exception as exc:
            raise InvalidOffer(str(exc)[:200] or type(exc).__name__) from None
        if not any(t.kind == "audio" for t in self.pc.getTransceivers()):
            raise InvalidOffer("the offer has no audio section")
        self._wants_channel = self.pc.sctp is not None  # the offer has a data channel section
        self.pc.addTrack(self.audio.track)
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        await self.connection.open()  # session.created: for the data channel, when it opens
        if self._mic is not None:
            self._spawn(pump_microphone(self._mic, self._feed), "microphone")
        self._spawn(self._read_inbox(), "events-in")
        self._spawn(self._end_unless_connected(), "connect-timeout")
        self._answered = True
        self.record("simulator.call_created")
        return self.pc.localDescription.sdp

    # Events in and out -------------------------------------------------------------------

    async def handle(self, raw: str) -> None:
        """One client event, from a sideband or the data channel."""
        async with self.lock:
            await self.connection.handle(raw)

    async def spoken_turn(self, text: str) -> None:
        async with self.lock:
            await self.connection.spoken_turn(text)

    async def _feed(self, pcm: bytes) -> None:
        async with self.lock:
            await self.connection.feed_audio(pcm)

    async def fan_out(self, payload: str) -> None:
        """Send one server event to every sideband and the data channel; never raises."""
        for ws in list(self.sidebands):
            try:
                await ws.send_str(payload)
            except Exception:  # that sideband is gone; the call goes on
                self.sidebands.pop(ws, None)
        channel = self._channel
        if channel is not None and channel.readyState == "open":
            with contextlib.suppress(Exception):
                channel.send(payload)
        elif self._wants_channel and (channel is None or channel.readyState == "connecting"):
            self._outbox.append(payload)

    async def attach(self, ws: web.WebSocketResponse, transport: asyncio.Transport | None) -> None:
        """A sideband joins: ``session.created`` (the call's session now), then every event."""
        created = {
            "event_id": self.state.new_id("event"),
            "type": "session.created",
            "session": copy.deepcopy(self.connection.session),
        }
        async with self.connection._send_lock:  # no event of the call slips in between
            await ws.send_str(json.dumps(created))
            self.sidebands[ws] = transport
        self.record("simulator.sideband_attached")

    def detach(self, ws: web.WebSocketResponse) -> None:
        self.sidebands.pop(ws, None)

    def abort_sidebands(self) -> None:
        """Drop every sideband's TCP connection, no close frame (the ``drop`` fault)."""
        sidebands, self.sidebands = self.sidebands, {}
        for transport in sidebands.values():
            if transport is not None:
                transport.abort()

    # The peer ----------------------------------------------------------------------------

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio" and self._mic is None:
            self._mic = track

    def _on_datachannel(self, channel: RTCDataChannel) -> None:
        if channel.label != EVENTS_LABEL or self._channel is not None:
            return
        self._channel = channel
        channel.on("message", self._on_message)
        if channel.readyState == "open":
            self._send_outbox()
        else:
            channel.on("open", self._send_outbox)

    def _send_outbox(self) -> None:
        channel = self._channel
        while self._outbox and channel is not None and channel.readyState == "open":
            channel.send(self._outbox.popleft())

    def _on_message(self, message: str | bytes) -> None:
        if isinstance(message, bytes):
            message = message.decode("utf-8", "replace")
        with contextlib.suppress(asyncio.QueueFull):  # a flood is dropped, not queued
            self._inbox.put_nowait(message)

    async def _read_inbox(self) -> None:
        while True:
            await self.handle(await self._inbox.get())

    def _on_connection_state(self) -> None:
        state = self.pc.connectionState
        if state == "connected" and not self._connected.is_set():
            self._connected.set()
            self.record("simulator.call_connected")
        elif state in ("closed", "failed"):
            self._spawn(self.end(CALLER_LEFT, "the caller hung up"), "caller-left")

    async def _end_unless_connected(self) -> None:
        try:
            await asyncio.wait_for(self._connected.wait(), self.connect_timeout)
        except TimeoutError:
            message = f"the caller did not connect within {self.connect_timeout:g} s"
            await self.end(CONNECT_TIMEOUT, message)

    # Ending ------------------------------------------------------------------------------

    async def end(self, reason: str, message: str, code: int = 1000) -> None:
        """Idempotent: close the session, each sideband (``code``, ``message``), the peer."""
        if self.ended:
            return
        self.ended = True
        self._on_end(self)
        if self._answered:  # an offer that was never answered made no call
            self.record("simulator.call_ended", reason=reason)
        current = asyncio.current_task()
        others = [task for task in self._tasks if task is not current]
        for task in others:
            task.cancel()
        await self.connection.close()
        sidebands, self.sidebands = list(self.sidebands), {}
        closing = [
            asyncio.ensure_future(ws.close(code=code, message=message.encode()[:120]))
            for ws in sidebands
        ]
        if closing:
            await asyncio.wait(closing, timeout=CLOSE_S)
        try:
            await asyncio.wait_for(self.pc.close(), CLOSE_S)
        except Exception:
            logger.warning("provider simulator: closing call %s's peer failed", self.call_id)
        self.audio.close()
        if others:
            await asyncio.wait(others, timeout=CLOSE_S)
        self._outbox.clear()
        self._channel = self._mic = None

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        if self.ended:
            coro.close()
            return
        task = asyncio.create_task(coro, name=f"sim-call-{name}:{self.call_id}")
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("call %s: a task failed", self.call_id, exc_info=task.exception())
