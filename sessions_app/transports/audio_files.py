"""Audio files at the turn-based edge: what an upload really is, how long it lasts, and
the WAV container a turn's answer is returned in. Headers only; nothing is decoded."""

from __future__ import annotations

import io
import struct
import wave

from sessions_app.providers.base import SAMPLE_RATE

# MPEG audio layer III: bitrates (kbit/s) by index, sample rates by index, per version.
_MPEG1_KBPS = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
_MPEG2_KBPS = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)
_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def sniff(data: bytes) -> str | None:
    """``"wav"`` or ``"mp3"`` when the bytes carry that format's headers, else None."""
    if wav_duration_ms(data) is not None:
        return "wav"
    if mp3_duration_ms(data) is not None:
        return "mp3"
    return None


def duration_ms(data: bytes, format: str) -> int | None:
    return wav_duration_ms(data) if format == "wav" else mp3_duration_ms(data)


def wav_duration_ms(data: bytes) -> int | None:
    """A RIFF/WAVE file with a ``fmt `` chunk before its ``data`` chunk; None if not one."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    position, byte_rate = 12, 0
    while position + 8 <= len(data):
        chunk, size = data[position : position + 4], struct.unpack_from("<I", data, position + 4)[0]
        body = position + 8
        if chunk == b"fmt ":
            if size < 16 or body + 16 > len(data):
                return None
            _, channels, rate, byte_rate = struct.unpack_from("<HHII", data, body)
            if not channels or not rate or not byte_rate:
                return None
        elif chunk == b"data":
            if not byte_rate:
                return None
            available = min(size, len(data) - body)  # streamed WAVs may say 0xFFFFFFFF
            return available * 1000 // byte_rate
        position = body + size + (size & 1)
    return None


def _mp3_frame(data: bytes, at: int) -> tuple[int, int, int] | None:
    """(frame length, samples, sample rate) of a layer III frame header at ``at``."""
    if at + 4 > len(data) or data[at] != 0xFF or data[at + 1] & 0xE0 != 0xE0:
        return None
    version, layer = (data[at + 1] >> 3) & 3, (data[at + 1] >> 1) & 3
    bitrate_index, rate_index = data[at + 2] >> 4, (data[at + 2] >> 2) & 3
    if version == 1 or layer != 1 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    rate = _RATES[version][rate_index]
    padding = (data[at + 2] >> 1) & 1
    if version == 3:
        return 144_000 * _MPEG1_KBPS[bitrate_index] // rate + padding, 1152, rate
    return 72_000 * _MPEG2_KBPS[bitrate_index] // rate + padding, 576, rate


def _id3_end(data: bytes) -> int:
    """Where the audio starts: after an ID3v2 tag (its size is 4 syncsafe bytes)."""
    if len(data) >= 10 and data[:3] == b"ID3":
        size = (data[6] << 21) | (data[7] << 14) | (data[8] << 7) | data[9]
        footer = 10 if data[5] & 0x10 else 0
        return 10 + size + footer
    return 0


def mp3_duration_ms(data: bytes) -> int | None:
    """MPEG-1/2/2.5 layer III frames (after an optional ID3v2 tag), walked header to header.

    The first frame must be followed by a second one where its length says (or by the end),
    so a stray 0xFFE sync pattern is not taken for MP3. None if not MP3.
    """
    position = _id3_end(data)
    first = _mp3_frame(data, position)
    if first is None:
        return None
    following = position + first[0]
    if following < len(data) and _mp3_frame(data, following) is None:
        return None
    samples_ms = 0.0
    while (frame := _mp3_frame(data, position)) is not None:
        length, samples, rate = frame
        samples_ms += samples * 1000 / rate
        position += length
    return int(samples_ms)


def pcm_to_wav(pcm: bytes, rate: int = SAMPLE_RATE) -> bytes:
    """pcm16 mono little-endian samples in a WAV container."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm)
    return out.getvalue()
