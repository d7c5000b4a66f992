"""Real audio files for turn tests: WAV and MP3 (LAME through PyAV) of a tone."""

from __future__ import annotations

import base64
import io

import av

from provider_simulator.audio import SAMPLE_RATE, tone
from sessions_app.transports.audio_files import pcm_to_wav


def wav(ms: int) -> bytes:
    return pcm_to_wav(tone(ms))


def mp3(ms: int) -> bytes:
    pcm = tone(ms)
    out = io.BytesIO()
    with av.open(out, "w", format="mp3") as container:
        stream = container.add_stream("libmp3lame", rate=SAMPLE_RATE)
        stream.layout = "mono"
        frame = av.AudioFrame(format="s16", layout="mono", samples=len(pcm) // 2)
        frame.planes[0].update(pcm)
        frame.sample_rate = SAMPLE_RATE
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    return out.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def audio_body(data: bytes, format: str = "wav", **extra) -> dict:
    return {"audio": {"data": b64(data), "format": format}, **extra}
