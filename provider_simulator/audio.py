"""Audio helpers for the provider simulator: an energy VAD and deterministic speech synthesis.

All audio is pcm16, 24 kHz, mono, little-endian (48 bytes per millisecond). Time is audio
time (bytes received), never wall-clock time, so results are reproducible.
"""

from __future__ import annotations

import array
import io
import math
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import lru_cache

SAMPLE_RATE = 24_000
BYTES_PER_MS = SAMPLE_RATE * 2 // 1000
FRAME_MS = 20
FRAME_BYTES = FRAME_MS * BYTES_PER_MS
CHUNK_MS = 100
CHUNK_BYTES = CHUNK_MS * BYTES_PER_MS
SPEECH_START_MS = 60  # this much voiced audio in a row starts speech
TONE_HZ = 440
TONE_MS_PER_CHAR = 60
TONE_AMPLITUDE = 8_000


def _samples(pcm: bytes) -> array.array:
    """pcm16 little-endian bytes as signed samples (an odd trailing byte is dropped)."""
    samples = array.array("h")
    samples.frombytes(pcm[: len(pcm) - len(pcm) % 2])
    if sys.byteorder == "big":
        samples.byteswap()
    return samples


def _to_bytes(samples: array.array) -> bytes:
    if sys.byteorder == "big":
        samples = array.array("h", samples)
        samples.byteswap()
    return samples.tobytes()


def rms(pcm: bytes) -> float:
    """Root mean square of pcm16 audio, on the int16 scale (0 for empty input)."""
    samples = _samples(pcm)
    if not samples:
        return 0.0
    return math.sqrt(sum(s * s for s in samples) / len(samples))


def amplitude_threshold(threshold: float) -> float:
    """Map ``turn_detection.threshold`` (0..1) to an RMS threshold: ``300 + threshold * 1000``.

    The default 0.5 gives 800: silence and faint noise stay below it, speech and a tone of
    amplitude a few thousand are well above it.
    """
    return 300.0 + float(threshold) * 1000.0


def duration_ms(pcm: bytes) -> int:
    return len(pcm) // BYTES_PER_MS


def tone(ms: int, hz: float = TONE_HZ, amplitude: int = TONE_AMPLITUDE) -> bytes:
    """A sine tone of ``ms`` milliseconds."""
    n = ms * SAMPLE_RATE // 1000
    step = 2 * math.pi * hz / SAMPLE_RATE
    return _to_bytes(array.array("h", (int(amplitude * math.sin(step * i)) for i in range(n))))


def silence(ms: int) -> bytes:
    return bytes(ms * BYTES_PER_MS)


def chunks(pcm: bytes, size: int = CHUNK_BYTES) -> list[bytes]:
    """Split audio into ``size``-byte chunks (100 ms by default); the last may be shorter."""
    return [pcm[i : i + size] for i in range(0, len(pcm), size)]


@dataclass(frozen=True)
class VadEvent:
    """``kind`` is ``"start"`` or ``"stop"``; ``at_ms`` is audio time since the first frame fed."""

    kind: str
    at_ms: int


class EnergyVad:
    """Frame-based energy voice activity detection over 20 ms frames.

    Speech starts after ``SPEECH_START_MS`` of consecutive voiced frames (``at_ms`` is where the
    voiced run began) and stops after ``silence_ms`` of consecutive unvoiced frames (``at_ms`` is
    the end of that silence, like OpenAI's ``audio_end_ms``).
    """

    def __init__(self, threshold: float = 0.5, silence_ms: int = 500) -> None:
        self.level = amplitude_threshold(threshold)
        self.silence_ms = max(FRAME_MS, int(silence_ms))
        self.position_ms = 0  # audio time of the next full frame
        self.speaking = False
        self._pending = b""
        self._voiced_ms = 0
        self._unvoiced_ms = 0

    def configure(self, threshold: float, silence_ms: int) -> None:
        self.level = amplitude_threshold(threshold)
        self.silence_ms = max(FRAME_MS, int(silence_ms))

    def reset_speech(self) -> None:
        """Forget any speech in progress (the buffer was cleared); audio time keeps running."""
        self.speaking = False
        self._voiced_ms = 0
        self._unvoiced_ms = 0

    def feed(self, pcm: bytes) -> list[VadEvent]:
        """Consume audio; return the speech start/stop transitions it contains, in order."""
        events: list[VadEvent] = []
        data = self._pending + pcm
        pos = 0
        while len(data) - pos >= FRAME_BYTES:
            voiced = rms(data[pos : pos + FRAME_BYTES]) >= self.level
            pos += FRAME_BYTES
            self.position_ms += FRAME_MS
            event = self._step(voiced)
            if event:
                events.append(VadEvent(*event))
        self._pending = data[pos:]
        return events

    def _step(self, voiced: bool) -> tuple[str, int] | None:
        if voiced:
            self._voiced_ms += FRAME_MS
            self._unvoiced_ms = 0
            if not self.speaking and self._voiced_ms >= SPEECH_START_MS:
                self.speaking = True
                return "start", self.position_ms - self._voiced_ms
            return None
        self._voiced_ms = 0
        if not self.speaking:
            return None
        self._unvoiced_ms += FRAME_MS
        if self._unvoiced_ms >= self.silence_ms:
            self.speaking = False
            self._unvoiced_ms = 0
            return "stop", self.position_ms
        return None


def espeak_path() -> str | None:
    return shutil.which("espeak-ng")


def synthesize(text: str) -> bytes:
    """Speech for ``text`` as pcm16 24 kHz mono: espeak-ng when installed, else a tone."""
    return _synthesize(text, espeak_path())


@lru_cache(maxsize=128)
def _synthesize(text: str, espeak: str | None) -> bytes:
    if espeak and text.strip():
        try:
            return _espeak(espeak, text)
        except (OSError, subprocess.SubprocessError, ValueError):
            pass
    return tone_for_text(text)


def tone_for_text(text: str) -> bytes:
    """The fallback voice: a 440 Hz tone, 60 ms per character (at least one character)."""
    return tone(TONE_MS_PER_CHAR * max(1, len(text)))


def _espeak(espeak: str, text: str) -> bytes:
    # "--" keeps a text starting with "-" from being read as an option.
    wav = subprocess.run(
        [espeak, "--stdout", "--", text], capture_output=True, check=True, timeout=30
    ).stdout
    pcm = wav_to_pcm24k(wav)
    if not pcm:
        raise ValueError("espeak-ng produced no audio")
    return pcm


def wav_to_pcm24k(wav: bytes) -> bytes:
    """Decode a WAV file and resample it to pcm16 24 kHz mono with PyAV."""
    return decode_to_pcm24k(wav, "wav")


def decode_to_pcm24k(data: bytes, container_format: str) -> bytes:
    """Decode an audio file (``wav``, ``mp3``, ...) to pcm16 24 kHz mono with PyAV.

    Raises ``av.error.FFmpegError`` when it cannot."""
    import av

    out = bytearray()
    resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    with av.open(io.BytesIO(data), format=container_format) as container:
        for frame in container.decode(audio=0):
            for converted in resampler.resample(frame):
                out += bytes(converted.planes[0])[: converted.samples * 2]
    for converted in resampler.resample(None):
        out += bytes(converted.planes[0])[: converted.samples * 2]
    return bytes(out)
