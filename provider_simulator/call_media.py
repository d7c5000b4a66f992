"""A simulated WebRTC call's media: the caller's microphone in, the responses' voice out.

Inbound, ``pump_microphone`` resamples each decoded frame (48 kHz from Opus) to pcm16
24 kHz mono and feeds it to the call's input audio, as ``input_audio_buffer.append`` would.
Outbound, ``VoiceTrack`` plays 20 ms frames in real time (queued speech, else silence) and
``CallAudio`` is the connection's ``AudioOut``: the ``output_audio_buffer.started`` /
``stopped`` / ``cleared`` events OpenAI sends over WebRTC instead of audio deltas.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from provider_simulator import audio
from sessions_app.transports.webrtc_media import PlaybackTrack


class VoiceTrack(PlaybackTrack):
    """The call's outgoing audio, as our relay plays it (queued pcm16 24 kHz mono in real
    time, silence when idle); ``on_drained`` is called (on the loop) once the last queued
    frame has been played."""

    def __init__(self, on_drained: Callable[[], None]) -> None:
        super().__init__()
        self._on_drained = on_drained

    def _next_chunk(self) -> bytes:
        playing = self.queued_bytes > 0
        chunk = super()._next_chunk()
        if playing and not self.queued_bytes:
            self._on_drained()
        return chunk


class CallAudio:
    """A call's ``AudioOut``: responses' audio onto ``track``, and the buffer's events.

    ``started`` when a response's first audio is queued, ``stopped`` once its response is
    done and the track has played it all, ``cleared`` when playback is cut (barge-in, or the
    client's ``output_audio_buffer.clear``).
    """

    def __init__(self, send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        self._send = send
        self.track = VoiceTrack(self._drained)
        self.playing: str | None = None  # the response whose audio is in the buffer
        self.last: str | None = None
        self._done = False  # the playing response sends no more audio
        self._tasks: set[asyncio.Task] = set()

    async def play(self, response_id: str, pcm: bytes) -> None:
        if self.playing != response_id:
            self.playing, self.last, self._done = response_id, response_id, False
            await self._send({"type": "output_audio_buffer.started", "response_id": response_id})
        self.track.push(pcm)

    async def response_done(self, response_id: str) -> None:
        if self.playing != response_id:
            return
        self._done = True
        if not self.track.queued_bytes:
            await self._stopped(response_id)

    async def clear(self, *, requested: bool = False) -> None:
        playing, self.playing = self.playing, None
        self.track.flush()
        if playing or requested:
            await self._send({"type": "output_audio_buffer.cleared", "response_id": self.last})

    def close(self) -> None:
        self.track.stop()
        for task in self._tasks:
            task.cancel()

    def _drained(self) -> None:
        if self.playing is not None and self._done:
            task = asyncio.ensure_future(self._stopped(self.playing))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _stopped(self, response_id: str) -> None:
        if self.playing != response_id:
            return
        self.playing = None
        await self._send({"type": "output_audio_buffer.stopped", "response_id": response_id})


async def pump_microphone(
    track: MediaStreamTrack, feed: Callable[[bytes], Awaitable[None]]
) -> None:
    """Feed the caller's audio track, resampled to pcm16 24 kHz mono, until it ends."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=audio.SAMPLE_RATE)
    while True:
        try:
            frame = await track.recv()
        except MediaStreamError:
            return
        pcm = b"".join(
            bytes(memoryview(out.planes[0])[: out.samples * 2]) for out in resampler.resample(frame)
        )
        if pcm:
            await feed(pcm)
