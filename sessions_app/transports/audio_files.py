"""Audio files at the turn-based edge: what an upload really is and how long it lasts, read
by FFmpeg's demuxers through PyAV (container and packets; nothing is decoded), and the WAV
container a turn's answer is returned in."""

from __future__ import annotations

import io
import wave

import av

from sessions_app.providers.base import SAMPLE_RATE

FORMATS = ("wav", "mp3")


def sniff(data: bytes) -> str | None:
    """``"wav"`` or ``"mp3"`` when the bytes are such a file, else None."""
    return next((fmt for fmt in FORMATS if duration_ms(data, fmt) is not None), None)


def duration_ms(data: bytes, format: str) -> int | None:
    """Milliseconds of audio in ``data`` read as ``format`` (its packets' durations summed,
    so a truncated file counts what it holds); None when it is not such a file."""
    try:
        with av.open(io.BytesIO(data), format=format) as container:
            stream = next(iter(container.streams.audio), None)
            if stream is None or not stream.sample_rate or stream.time_base is None:
                return None
            # FFmpeg's mp3 demuxer also reads MPEG layers I and II; only layer III is MP3.
            if format == "mp3" and not stream.codec_context.name.startswith("mp3"):
                return None
            ticks = sum(packet.duration or 0 for packet in container.demux(stream))
    except av.FFmpegError:
        return None
    if not ticks:
        # A WAV with an empty data chunk is a valid, silent file; an MP3 without frames is none.
        return 0 if format == "wav" else None
    return int(ticks * stream.time_base * 1000)


def pcm_to_wav(pcm: bytes, rate: int = SAMPLE_RATE) -> bytes:
    """pcm16 mono little-endian samples in a WAV container."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm)
    return out.getvalue()
