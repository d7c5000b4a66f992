"""The call's outbound track (pacing, silence, barge-in) and the microphone pump."""

from __future__ import annotations

import asyncio
import fractions
import time

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from provider_simulator.audio import rms, tone
from sessions_app.transports.webrtc_media import FRAME_BYTES, MicPump, PlaybackTrack


def pcm(frame: av.AudioFrame) -> bytes:
    return bytes(frame.planes[0])[: frame.samples * 2]


async def test_frames_are_20_ms_of_24_khz_mono_with_advancing_pts_in_real_time():
    track = PlaybackTrack()
    began = time.monotonic()
    frames = [await track.recv() for _ in range(11)]
    elapsed = time.monotonic() - began
    assert elapsed >= 0.18  # paced: ten 20 ms steps after the first frame, never faster
    assert [f.pts for f in frames] == [480 * i for i in range(11)]
    first = frames[0]
    assert (first.samples, first.sample_rate, first.format.name, first.layout.name) == (
        480,
        24000,
        "s16",
        "mono",
    )
    assert first.time_base == fractions.Fraction(1, 24000)
    assert all(pcm(f) == bytes(FRAME_BYTES) for f in frames)  # silence when idle
    track.stop()


async def test_queued_audio_plays_in_order_and_a_flush_silences_it_at_once():
    track = PlaybackTrack()
    speech = tone(100)
    track.push(speech[:1000])
    track.push(speech[1000:])
    played = b"".join([pcm(await track.recv()) for _ in range(3)])
    assert played == speech[: 3 * FRAME_BYTES]
    track.flush()
    assert pcm(await track.recv()) == bytes(FRAME_BYTES)
    track.stop()


async def test_a_partial_last_frame_is_padded_with_silence():
    track = PlaybackTrack()
    track.push(tone(30))
    await track.recv()
    last = pcm(await track.recv())
    assert rms(last[: FRAME_BYTES // 2]) > 1000 and last[FRAME_BYTES // 2 :] == bytes(480)
    track.stop()


async def test_a_stopped_track_ends():
    track = PlaybackTrack()
    track.stop()
    try:
        await track.recv()
    except MediaStreamError:
        return
    raise AssertionError("recv() after stop() must raise")


class Microphone(MediaStreamTrack):
    """What aiortc's decoder hands over: 20 ms of 48 kHz stereo s16 per frame."""

    kind = "audio"

    def __init__(self, frames: int) -> None:
        super().__init__()
        self.left = frames

    async def recv(self) -> av.AudioFrame:
        if not self.left:
            raise MediaStreamError
        self.left -= 1
        frame = av.AudioFrame(format="s16", layout="stereo", samples=960)
        frame.planes[0].update(bytes(960 * 4))
        frame.sample_rate = 48000
        frame.pts = (10 - self.left) * 960
        frame.time_base = fractions.Fraction(1, 48000)
        return frame


async def test_the_microphone_is_forwarded_as_24_khz_mono_frame_by_frame():
    chunks: list[bytes] = []

    async def forward(data: bytes) -> None:
        chunks.append(data)

    await asyncio.wait_for(MicPump(Microphone(10), forward).run(), 5)
    assert len(chunks) >= 9
    assert 9 * FRAME_BYTES <= sum(map(len, chunks)) <= 10 * FRAME_BYTES
    assert max(map(len, chunks)) <= FRAME_BYTES
