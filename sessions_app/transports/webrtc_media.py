"""Media of a WebRTC call: the browser's microphone in, the provider's voice out.

Inbound, ``MicPump`` resamples each decoded frame (aiortc gives 48 kHz stereo) to pcm16
24 kHz mono and forwards it at once, 20 ms at a time. Outbound, ``PlaybackTrack`` is the
call's one audio track: 20 ms frames of 24 kHz mono paced by the clock, the provider's audio
while there is some, silence otherwise; ``flush`` drops what is queued (barge-in);
``when_played`` runs a callback once what is queued now has been played (or dropped).
"""

from __future__ import annotations

import asyncio
import fractions
import logging
from collections import deque
from collections.abc import Awaitable, Callable

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from sessions_app.providers.base import BYTES_PER_MS, SAMPLE_RATE

log = logging.getLogger(__name__)

FRAME_MS = 20
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000
FRAME_BYTES = FRAME_SAMPLES * 2
TIME_BASE = fractions.Fraction(1, SAMPLE_RATE)
MAX_QUEUED_MS = 120_000  # provider audio may arrive faster than it plays; bound it
MAX_LAG_SECONDS = 0.2  # further behind the clock than this (a stalled loop): re-anchor
_SILENCE = bytes(FRAME_BYTES)


class PlaybackTrack(MediaStreamTrack):
    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._queued = bytearray()
        self._read = 0  # bytes of ``_queued`` already played
        self._start: float | None = None
        self._pts = 0
        self._overflow_logged = False
        # Bytes of audio pushed and played since the track began; callbacks waiting for a
        # position of the playback, in order.
        self._pushed_total = 0
        self._played_total = 0
        self._marks: deque[tuple[int, Callable[[], None]]] = deque()

    def push(self, pcm: bytes) -> None:
        """Queue provider audio (pcm16 24 kHz mono) for playback."""
        room = MAX_QUEUED_MS * BYTES_PER_MS - (len(self._queued) - self._read)
        if len(pcm) > room and not self._overflow_logged:
            log.warning("playback queue full (%d ms); dropping audio", MAX_QUEUED_MS)
            self._overflow_logged = True
        kept = pcm[: max(0, room)]
        self._queued += kept
        self._pushed_total += len(kept)

    @property
    def queued_bytes(self) -> int:
        """Audio still waiting to be played."""
        return len(self._queued) - self._read

    def when_played(self, callback: Callable[[], None], *, first_byte: bool = False) -> None:
        """Call ``callback`` (on the loop, from ``recv``) once the audio queued now has been
        played, or at once if none is; with ``first_byte``, once the next audio pushed
        after this starts to play. A flush calls the callbacks it makes moot at once."""
        position = self._pushed_total + 1 if first_byte else self._pushed_total
        if position <= self._played_total:
            callback()
        else:
            self._marks.append((position, callback))

    def flush(self) -> None:
        """Drop everything queued, now."""
        self._drop_queued()
        self._pushed_total = self._played_total
        self._reached(float("inf"))  # what waited for dropped audio

    def _drop_queued(self) -> None:
        self._queued.clear()
        self._read = 0

    def _reached(self, position: float) -> None:
        while self._marks and self._marks[0][0] <= position:
            _, callback = self._marks.popleft()
            try:
                callback()
            except Exception:
                log.exception("a playback callback failed")

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        await self._pace()
        if self.readyState != "live":
            raise MediaStreamError
        frame = av.AudioFrame(format="s16", layout="mono", samples=FRAME_SAMPLES)
        frame.planes[0].update(self._next_chunk())
        frame.pts = self._pts
        frame.sample_rate = SAMPLE_RATE
        frame.time_base = TIME_BASE
        return frame

    async def _pace(self) -> None:
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
            return
        self._pts += FRAME_SAMPLES
        wait = self._start + self._pts / SAMPLE_RATE - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        elif wait < -MAX_LAG_SECONDS:
            self._start = loop.time() - self._pts / SAMPLE_RATE

    def _next_chunk(self) -> bytes:
        available = len(self._queued) - self._read
        if available <= 0:
            return _SILENCE
        chunk = bytes(self._queued[self._read : self._read + FRAME_BYTES])
        self._read += len(chunk)
        self._played_total += len(chunk)
        if self._marks:
            self._reached(self._played_total)
        if self._read >= len(self._queued):
            self._drop_queued()
        elif self._read >= 64 * 1024:
            del self._queued[: self._read]
            self._read = 0
        return chunk.ljust(FRAME_BYTES, b"\0")


class MicPump:
    """Forwards the browser's microphone track as pcm16 24 kHz mono until it ends."""

    def __init__(
        self, track: MediaStreamTrack, forward: Callable[[bytes], Awaitable[None]]
    ) -> None:
        self.track = track
        self.forward = forward
        self.resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)

    async def run(self) -> None:
        while True:
            try:
                frame = await self.track.recv()
            except MediaStreamError:
                return
            await self.relay(frame)

    async def relay(self, frame: av.AudioFrame) -> None:
        """Resample one decoded frame and forward what comes out (maybe nothing yet)."""
        pcm = b"".join(
            bytes(memoryview(out.planes[0])[: out.samples * 2])
            for out in self.resampler.resample(frame)
        )
        if pcm:
            await self.forward(pcm)
