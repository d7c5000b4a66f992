"""A browser stand-in for WebRTC tests and benchmarks: an aiortc peer on loopback only.

It offers one audio track (its "microphone": queued speech, else silence, in real time)
and the ``events`` data channel, keeps every event received, and measures the audio it
hears. It uses ``IcePolicy.loopback()``, the policy the tests give the server's peer: its
host candidates are 127.0.0.1 only and remote candidates outside loopback are dropped, so
test traffic never leaves loopback. Needs no Django.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
from array import array
from collections.abc import Callable
from typing import Any

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from provider_simulator.audio import silence, tone
from sessions_app.transports import webrtc_ice
from sessions_app.transports.webrtc_media import PlaybackTrack

LOOPBACK = webrtc_ice.IcePolicy.loopback()
LOUD_RMS = 500.0


def frame_rms(frame: Any) -> float:
    samples = array("h", bytes(frame.planes[0])[: frame.samples * 2 * len(frame.layout.channels)])
    return math.sqrt(sum(s * s for s in samples) / len(samples)) if samples else 0.0


class BrowserPeer:
    def __init__(
        self,
        *,
        measure_audio: bool = True,
        mic: MediaStreamTrack | None = None,
        label: str = "events",
    ) -> None:
        """``mic``: the track to send instead of the default one ``speak()`` feeds;
        ``label``: the data channel's (OpenAI's own calls use ``oai-events``)."""
        self.pc = RTCPeerConnection(webrtc_ice.use(LOOPBACK))
        self.mic = mic or PlaybackTrack()
        self.pc.addTrack(self.mic)
        self.channel = self.pc.createDataChannel(label)
        self.events: list[dict[str, Any]] = []
        self.raw_messages: list[str] = []
        self.heard_frames = 0
        self.loud_frames = 0
        self.quiet_run = 0  # frames heard since the last loud one
        self.channel_closed = asyncio.Event()
        self._measure = measure_audio
        self._arrived = asyncio.Event()
        self._heard = asyncio.Condition()
        self._connected = asyncio.Event()
        self._cursor = 0
        self._tasks: set[asyncio.Task] = set()
        self.channel.on("message", self._on_message)
        self.channel.on("close", self.channel_closed.set)
        self.pc.on("track", self._on_track)
        self.pc.on("connectionstatechange", self._on_connection_state)

    async def offer(self) -> str:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return self.pc.localDescription.sdp

    async def accept(self, answer: str) -> None:
        await self.pc.setRemoteDescription(
            RTCSessionDescription(
                sdp=webrtc_ice.remote_candidates_kept(answer, LOOPBACK), type="answer"
            )
        )

    async def connected(self, timeout: float = 10) -> None:
        try:
            await asyncio.wait_for(self._connected.wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"not connected: {self.pc.connectionState}") from None

    async def until_heard(self, what: str, predicate: Callable[[], bool], timeout: float = 10):
        """Wait, frame by frame, until ``predicate`` holds of what the peer has heard."""
        try:
            async with asyncio.timeout(timeout), self._heard:
                await self._heard.wait_for(predicate)
        except TimeoutError:
            raise AssertionError(
                f"not {what} within {timeout}s: heard {self.heard_frames} frames, "
                f"{self.loud_frames} loud, the last {self.quiet_run} quiet"
            ) from None

    async def until_loud(self, timeout: float = 10) -> None:
        await self.until_heard("loud", lambda: self.loud_frames > 0, timeout)

    async def until_frames(self, count: int, timeout: float = 10) -> None:
        """Until ``count`` more frames are heard (20 ms each, paced by the sender's clock)."""
        target = self.heard_frames + count
        await self.until_heard(f"{count} more frames", lambda: self.heard_frames >= target, timeout)

    async def until_quiet(self, frames: int, timeout: float = 10) -> None:
        """Until the last ``frames`` frames heard were all quiet."""
        await self.until_heard(f"{frames} quiet frames", lambda: self.quiet_run >= frames, timeout)

    def speak(self, speech_ms: int = 800, silence_ms: int = 700) -> None:
        """A tone the simulator's VAD hears as speech, then the silence that ends the turn."""
        self.mic.push(tone(speech_ms) + silence(silence_ms))

    def send(self, event: dict[str, Any] | str) -> None:
        self.channel.send(event if isinstance(event, str) else json.dumps(event))

    async def until(self, type: str, timeout: float = 15, **match: Any) -> dict[str, Any]:
        """Read on from the last event returned until one of ``type`` (and matching fields)."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    self._arrived.clear()
                    for index in range(self._cursor, len(self.events)):
                        event = self.events[index]
                        if event.get("type") == type and all(
                            event.get(k) == v for k, v in match.items()
                        ):
                            self._cursor = index + 1
                            return event
                    await self._arrived.wait()
        except TimeoutError:
            types = [e.get("type") for e in self.events[self._cursor :][-20:]]
            raise AssertionError(f"no {type} within {timeout}s; unread events: {types}") from None

    def types(self) -> list[str]:
        return [e.get("type") for e in self.events]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.wait_for(self.pc.close(), 10)
        self.mic.stop()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)

    def _on_message(self, message: str | bytes) -> None:
        self.raw_messages.append(message if isinstance(message, str) else repr(message))
        with contextlib.suppress(ValueError):
            self.events.append(json.loads(message))
        self._arrived.set()

    def _on_track(self, track: MediaStreamTrack) -> None:
        self._spawn(self._listen(track))

    def _on_connection_state(self) -> None:
        if self.pc.connectionState == "connected":
            self._connected.set()

    def _spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _listen(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            async with self._heard:
                self.heard_frames += 1
                if self._measure and frame_rms(frame) >= LOUD_RMS:
                    self.loud_frames += 1
                    self.quiet_run = 0
                else:
                    self.quiet_run += 1
                self._heard.notify_all()
