"""Offline speech recognition for the simulator's "model": what a caller's turn said.

PocketSphinx (the ``pocketsphinx`` wheel, which ships its US English acoustic model,
language model and dictionary) decodes 16 kHz mono pcm16; the simulator's audio is 24 kHz,
so each turn is resampled with PyAV (which aiortc already brings). Nothing is fetched at
run time and nothing leaves the machine.

The decoder hears a small vocabulary (``VOCABULARY``: the support demo's words, numbers,
greetings), with the bundled general language model: PocketSphinx's full 130,000-word
dictionary mishears synthetic and hurried speech badly and decodes several times slower
than real time on a busy machine, while the demo's questions ("where is my order one zero
four two") come through this one. A word outside it is heard as its nearest neighbour.

One decoder per process, loaded on first use (``shared``), decodes one turn at a time
under a lock: ``recognize`` runs it in a worker thread, so a call's event loop never waits
for the decoder. Which transcript a turn gets (scripted, recognized, or ``speech of N
milliseconds``) is ``SimulatorState.hear``'s choice.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import threading

from provider_simulator import audio

logger = logging.getLogger(__name__)

DECODER_RATE = 16_000  # the rate of pocketsphinx's bundled acoustic model
MIN_SPEECH_MS = 100  # shorter audio is not decoded: nothing to hear
_WORDS = """
    a about all also am an and any are arrive arrived as at be bye call can cancel cancelled
    check could day delivered delivery did do does done eight eighteen eighty eleven fifteen
    fifty find five for forty four fourteen friday from get goodbye got has have hello help hi
    how hundred i i'm is it it's just know late me monday my next nine nineteen ninety no not
    now number of oh okay on one or order orders package please refund same second seven
    seventeen seventy shipped shipping six sixteen sixty so status still tell ten thank thanks
    that that's the there thirteen thirty this thousand three to today track tuesday twelve
    twenty two up want was week what when where which will with yes you your zero
"""
VOCABULARY = frozenset(_WORDS.split())


def to_decoder_rate(pcm: bytes) -> bytes:
    """pcm16 24 kHz mono as pcm16 16 kHz mono (PyAV's resampler)."""
    import av

    pcm = pcm[: len(pcm) - len(pcm) % 2]
    if not pcm:
        return b""
    frame = av.AudioFrame(format="s16", layout="mono", samples=len(pcm) // 2)
    frame.sample_rate = audio.SAMPLE_RATE
    frame.planes[0].update(pcm)
    resampler = av.AudioResampler(format="s16", layout="mono", rate=DECODER_RATE)
    out = bytearray()
    for converted in [*resampler.resample(frame), *resampler.resample(None)]:
        out += bytes(converted.planes[0])[: converted.samples * 2]
    return bytes(out)


class Recognizer:
    """A PocketSphinx decoder with its bundled English model; thread-safe (one lock)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._decoder = None

    def load(self) -> None:
        """Load the model now (a second or so; later calls return at once)."""
        with self._lock:
            self._load()

    def _load(self):
        if self._decoder is None:
            from pocketsphinx import Decoder

            # The wheel's default model (en-us and its n-gram language model) with the
            # vocabulary's entries of its CMU dictionary. FATAL keeps its log off stderr.
            with tempfile.TemporaryDirectory(prefix="simulator-recognizer-") as folder:
                path = os.path.join(folder, "vocabulary.dict")
                with open(path, "w", encoding="utf-8") as out:
                    out.writelines(_dictionary_entries(VOCABULARY))
                self._decoder = Decoder(samprate=DECODER_RATE, dict=path, loglevel="FATAL")
        return self._decoder

    def transcribe(self, pcm: bytes) -> str:
        """The words heard in pcm16 24 kHz mono audio, lower case; "" if none."""
        if audio.duration_ms(pcm) < MIN_SPEECH_MS:
            return ""
        samples = to_decoder_rate(pcm)
        with self._lock:
            decoder = self._load()
            decoder.start_utt()
            try:
                decoder.process_raw(samples, full_utt=True)
            finally:
                decoder.end_utt()
            hypothesis = decoder.hyp()
        return " ".join(hypothesis.hypstr.split()) if hypothesis is not None else ""


def _dictionary_entries(words: frozenset[str]) -> list[str]:
    """The lines of the bundled CMU dictionary for ``words`` (with their variants, "w(2)")."""
    from pocketsphinx import get_model_path

    path = os.path.join(get_model_path(), "en-us", "cmudict-en-us.dict")
    with open(path, encoding="utf-8") as source:
        return [line for line in source if line.split(" ", 1)[0].split("(")[0] in words]


_shared: Recognizer | None = None
_shared_lock = threading.Lock()


def shared() -> Recognizer:
    """This process's recognizer (its model loads on first use)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Recognizer()
        return _shared


async def recognize(pcm: bytes) -> str:
    """``shared().transcribe(pcm)`` in a worker thread; "" (logged) if decoding failed."""
    try:
        return await asyncio.to_thread(shared().transcribe, pcm)
    except Exception:
        logger.exception("provider simulator: speech recognition failed")
        return ""


async def warm_up() -> None:
    """Load the model in a worker thread, so the first turn does not wait for it."""
    try:
        await asyncio.to_thread(shared().load)
    except Exception:
        logger.exception("provider simulator: loading the speech recognizer failed")
