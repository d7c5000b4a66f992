"""``POST /api/v1/session-instances/<id>/realtime-offer``: the WebRTC transport.

With ``media: relay`` (here) the browser's peer is the control plane's own aiortc peer; with
``media: direct`` the provider's peer answers (``webrtc_direct``). The process that answers an
offer owns the call: the peer, the ``SessionRuntime`` and the provider connection live on
its event loop until the call ends, whoever ends it (browser, ``end`` route, handler,
provider, expiry): ``SessionRuntime.end`` releases this call, which closes the peer.

The answer is sent once ICE candidates are gathered (no trickle). The provider is opened
before answering, so a provider failure is the offer's 502; a peer that then does not
connect within ``AGENTFIELD_WEBRTC_CONNECT_TIMEOUT`` fails the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
from collections import deque
from collections.abc import Coroutine
from typing import Any

from aiortc import RTCDataChannel, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack
from channels.db import database_sync_to_async
from django.conf import settings

from foundation.errors import ApiError
from sessions_app.models import SessionInstance, SessionStatus
from sessions_app.providers import adapter_for
from sessions_app.providers.base import (
    AssistantTranscript,
    AudioOut,
    ProviderEvent,
    ProviderUnavailable,
    ResponseDone,
)
from sessions_app.runtime.session import SessionRuntime
from sessions_app.runtime.sink import Notice
from sessions_app.services.lifecycle import (
    session_connect,
    session_ensure_connectable,
    session_finish,
    session_gone_error,
)
from sessions_app.transports import webrtc_ice
from sessions_app.transports.event_stream import stream_publish_soon
from sessions_app.transports.webrtc_direct import DirectCall
from sessions_app.transports.webrtc_events import (
    EndCall,
    channel_command,
    channel_event,
    error_event,
    refusal_event,
)
from sessions_app.transports.webrtc_media import MicPump, PlaybackTrack
from sessions_app.transports.webrtc_offer import (
    invalid_offer,
    offer_request_check,
    offer_sdp_check,
    provider_failure,
)

log = logging.getLogger(__name__)

EVENTS_LABEL = "events"
MAX_QUEUED_EVENTS = 500  # sent when the channel opens; older ones are dropped beyond this
MAX_INBOX = 100
DRAIN_SECONDS = 1.0  # for the last events to leave before the peer closes
CLOSE_SECONDS = 5.0  # aiortc's close can hang in edge cases

_ensure_connectable = database_sync_to_async(session_ensure_connectable)
_connect = database_sync_to_async(session_connect)
_finish = database_sync_to_async(session_finish)


async def answer_offer(
    session: SessionInstance, *, provider: str, transport: str, body: bytes
) -> str:
    """The answer SDP for the browser's offer; the call then runs on. ``ApiError`` if not."""
    sdp = offer_request_check(session=session, provider=provider, transport=transport, body=body)
    await _ensure_connectable(session)
    offer_sdp_check(sdp)
    direct = session.media == "direct"
    call = DirectCall(session.session_id) if direct else WebRTCCall(session.session_id)
    try:
        return await call.answer(session, sdp)
    except asyncio.CancelledError:  # the caller went away mid-offer
        await call.abandon()
        raise


class WebRTCCall:
    """One browser call: the peer, its two audio directions and the ``events`` channel.

    It is the runtime's sink (``deliver``, ``flush_playback``, ``release``). Its tasks, like
    the runtime's, start in a context of their own: they outlive the offer's request.
    """

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self.ice = webrtc_ice.IcePolicy.from_settings()
        self.pc = RTCPeerConnection(webrtc_ice.use(self.ice))
        self.playback = PlaybackTrack()
        self.runtime: SessionRuntime | None = None
        self.closed = False
        self._claimed: SessionInstance | None = None
        self._mic: MediaStreamTrack | None = None
        self._channel: RTCDataChannel | None = None
        self._outbox: deque[str] = deque(maxlen=MAX_QUEUED_EVENTS)
        self._inbox: asyncio.Queue[str | bytes] = asyncio.Queue(MAX_INBOX)
        self._connected = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()
        self._speaking = False  # between playback.started and playback.stopped
        self.pc.on("track", self._on_track)
        self.pc.on("datachannel", self._on_datachannel)
        self.pc.on("connectionstatechange", self._on_connection_state)

    # --- answering -----------------------------------------------------------------------

    async def answer(self, session: SessionInstance, sdp: str) -> str:
        """Take the offer, claim the session, open the provider, then answer (ICE gathered)."""
        sdp = webrtc_ice.remote_candidates_kept(sdp, self.ice)
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        except Exception as exc:
            await self.close()
            raise invalid_offer(exc) from None
        self.pc.addTrack(self.playback)
        try:
            self._claimed = session = await _connect(session)
            adapter = adapter_for(session.provider)
        except ApiError:
            await self.close()
            raise
        except ProviderUnavailable as exc:
            await self.abandon(f"provider unavailable: {exc}")
            raise provider_failure(exc) from None
        self.runtime = runtime = SessionRuntime(session, adapter, sink=self)
        if not await runtime.start():  # the runtime has ended the session and released us
            if runtime.start_error is not None:
                raise provider_failure(runtime.start_error)
            raise self._gone()
        try:
            await self.pc.setLocalDescription(await self.pc.createAnswer())
        except Exception:
            if not self.closed:  # not ended meanwhile: a real failure
                log.exception("answering the offer of %s failed", self.session_id)
            await runtime.end(SessionStatus.FAILED, "could not answer the WebRTC offer")
            raise self._gone() from None
        if self._mic is not None:
            self._spawn(MicPump(self._mic, runtime.send_audio).run(), "mic")
        self._spawn(self._read_inbox(), "events-in")
        self._spawn(self._fail_unless_connected(), "connect-timeout")
        return self.pc.localDescription.sdp

    async def abandon(self, reason: str = "the offer was abandoned") -> None:
        """The offer will not be answered: fail what was claimed, release everything."""
        if self.runtime is not None:
            await self.runtime.end(SessionStatus.FAILED, reason)
            return
        await self.close()
        if self._claimed is not None:
            await _finish(self._claimed, status=SessionStatus.FAILED, reason=reason)

    def _gone(self) -> ApiError:
        status = self.runtime.session.status if self.runtime else SessionStatus.FAILED
        return session_gone_error(self.session_id, status)

    # --- peer events ---------------------------------------------------------------------

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio" and self._mic is None:
            self._mic = track

    def _on_datachannel(self, channel: RTCDataChannel) -> None:
        if channel.label != EVENTS_LABEL or self._channel is not None:
            channel.close()
            return
        self._channel = channel
        channel.on("message", self._on_message)
        channel.on("close", lambda: self._hang_up(SessionStatus.ENDED, "client disconnected"))
        if channel.readyState == "open":
            self._send_outbox()
        else:
            channel.on("open", self._send_outbox)

    def _on_connection_state(self) -> None:
        state = self.pc.connectionState
        if state == "connected":
            self._connected.set()
        elif state == "closed":
            self._hang_up(SessionStatus.ENDED, "client disconnected")
        elif state == "failed":
            self._hang_up(SessionStatus.FAILED, "the WebRTC connection failed")

    def _on_message(self, message: str | bytes) -> None:
        try:
            self._inbox.put_nowait(message)
        except asyncio.QueueFull:
            self._send(error_event("too_many_events", "events arrive faster than they are handled"))

    def _hang_up(self, status: str, reason: str) -> None:
        if not self.closed and self.runtime is not None:
            self._spawn(self.runtime.end(status, reason), "hang-up")

    async def _fail_unless_connected(self) -> None:
        timeout = settings.AGENTFIELD_WEBRTC_CONNECT_TIMEOUT
        try:
            await asyncio.wait_for(self._connected.wait(), timeout)
        except TimeoutError:
            reason = f"the WebRTC peer did not connect within {timeout:g} s"
            await self.runtime.end(SessionStatus.FAILED, reason)

    async def _read_inbox(self) -> None:
        while True:
            message = await self._inbox.get()
            try:
                command = channel_command(message)
            except ApiError as exc:
                self._send(refusal_event(exc))
                continue
            if isinstance(command, EndCall):
                await self.runtime.end(SessionStatus.ENDED, "ended by the client")
                return
            try:
                await self.runtime.send_text(command.text)
            except Exception:  # one message must not end the call
                log.exception("call %s: a data-channel message failed", self.session_id)
                message = "the event could not be handled; the call goes on"
                self._send(error_event("internal_error", message))

    # --- RuntimeSink ---------------------------------------------------------------------

    async def deliver(self, event: ProviderEvent | Notice) -> None:
        """Audio to the track; the assistant's words and a response's end when the caller
        hears them (``playback.started`` / ``.stopped`` around what it hears, as a direct
        call's provider says them); everything else at once."""
        if isinstance(event, AudioOut):
            if not self._speaking and event.pcm:
                self._speaking = True
                self.playback.when_played(self._playback_started, first_byte=True)
            self.playback.push(event.pcm)
            return
        message = channel_event(event)
        if isinstance(event, AssistantTranscript | ResponseDone):
            done = isinstance(event, ResponseDone)
            self.playback.when_played(lambda: self._heard(message, done=done))
        elif message is not None:
            self._send(message)

    def _playback_started(self) -> None:
        self._send({"type": "playback.started"})

    def _heard(self, message: dict[str, Any] | None, *, done: bool) -> None:
        """A response's transcript or its end, once the audio before it was played."""
        if message is not None:
            self._send(message)
        if done and self._speaking and not self.playback.queued_bytes:
            self._playback_stopped()

    def _playback_stopped(self) -> None:
        self._speaking = False
        self._send({"type": "playback.stopped"})

    async def flush_playback(self) -> None:
        self.playback.flush()  # what waited for the dropped audio is sent now
        if self._speaking:
            self._playback_stopped()

    async def playback_drained(self) -> None:
        """Returns once the caller has heard every queued frame (the track plays them in
        real time, so a call ended right after speech must not cut it off)."""
        while self.playback.queued_bytes > 0 and self.pc.connectionState == "connected":
            await asyncio.sleep(0.02)

    async def release(self, status: str, reason: str) -> None:
        await self.close()

    # --- sending and closing -------------------------------------------------------------

    def _send(self, message: dict[str, Any]) -> None:
        text = json.dumps(message, default=str)
        stream_publish_soon(self.session_id, message, text)  # for the session's event streams
        channel = self._channel
        if channel is not None and channel.readyState == "open":
            channel.send(text)
        elif (channel is None or channel.readyState == "connecting") and not self.closed:
            self._outbox.append(text)

    def _send_outbox(self) -> None:
        channel = self._channel
        while self._outbox and channel is not None and channel.readyState == "open":
            channel.send(self._outbox.popleft())

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        task = asyncio.create_task(
            coro, name=f"webrtc-{name}:{self.session_id}", context=contextvars.Context()
        )
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("call %s task failed", self.session_id, exc_info=task.exception())
            self._hang_up(SessionStatus.FAILED, "internal error")

    async def close(self) -> None:
        """Idempotent: let the last events leave, stop every task, close the peer."""
        if self.closed:
            return
        self.closed = True
        await self._drain_channel()
        current = asyncio.current_task()
        others = [task for task in self._tasks if task is not current]
        for task in others:
            task.cancel()
        try:
            await asyncio.wait_for(self.pc.close(), CLOSE_SECONDS)
        except Exception:
            log.warning("closing the peer of %s failed", self.session_id, exc_info=True)
        self.playback.stop()
        if others:
            await asyncio.wait(others, timeout=CLOSE_SECONDS)
        self._outbox.clear()
        self._channel = self._mic = None

    async def _drain_channel(self) -> None:
        channel = self._channel
        if channel is None or channel.readyState != "open":
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(DRAIN_SECONDS):
                while channel.bufferedAmount > 0:
                    await asyncio.sleep(0.01)
