"""What an upload is and how long it lasts (``sessions_app.transports.audio_files``), at the
edges where FFmpeg's demuxers are more lenient than the formats we accept."""

from __future__ import annotations

import io

import av

from sessions_app.transports.audio_files import duration_ms, pcm_to_wav, sniff
from tests.sessions_app.audio_clips import mp3, wav


def _mp2(frames: int = 20) -> bytes:
    """MPEG audio layer II: FFmpeg's mp3 demuxer reads it, but it is not MP3."""
    out = io.BytesIO()
    with av.open(out, "w", format="mp2") as container:
        stream = container.add_stream("mp2", rate=48000)
        stream.layout = "mono"
        for _ in range(frames):
            frame = av.AudioFrame(format="s16", layout="mono", samples=1152)
            for plane in frame.planes:
                plane.update(bytes(plane.buffer_size))
            frame.sample_rate = 48000
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()


def test_it_times_wav_and_mp3():
    assert duration_ms(wav(1000), "wav") == 1000
    assert sniff(wav(1000)) == "wav"
    assert sniff(mp3(1000)) == "mp3"
    assert 900 <= duration_ms(mp3(1000), "mp3") <= 1100


def test_a_wav_with_an_empty_data_chunk_is_a_silent_wav():
    assert duration_ms(pcm_to_wav(b""), "wav") == 0
    assert sniff(pcm_to_wav(b"")) == "wav"


def test_mpeg_layer_ii_is_not_mp3():
    data = _mp2()
    assert duration_ms(data, "mp3") is None
    assert sniff(data) is None


def test_bytes_that_are_no_audio_are_neither():
    assert sniff(b"where is my order" * 20) is None
    assert duration_ms(b"RIFF" + bytes(40), "wav") is None
