"""The voice page under test: Chromium's fake microphone playing espeak-ng speech, and what
"Start a new call" must leave of the previous call."""

from __future__ import annotations

import shutil
import subprocess
import wave
from pathlib import Path

import pytest

from tests.worker import TEST_VAR_DIR

# Chromium plays the file as its microphone, over and over; the call must stay on loopback.
MEDIA_ARGS = [
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--autoplay-policy=no-user-gesture-required",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]
# Test only, run before the page's own script: the level of the audio the page receives.
VOICE_PROBE = Path(__file__).with_name("voice_probe.js")


def speech_wav(text: str, silence_s: int = 2, lead_s: int = 0, voice: str = "") -> Path:
    """``text`` spoken by espeak-ng after ``lead_s`` seconds of silence (the microphone
    plays from the moment the page opens it, before the call is connected), then
    ``silence_s`` seconds of silence so the turn ends (and, longer, so its next playing
    comes only after the answer)."""
    if not shutil.which("espeak-ng"):
        pytest.fail("espeak-ng is missing; make test installs it (scripts/ensure-system-packages)")
    spoken = TEST_VAR_DIR / "spoken.wav"
    voice_args = ["-v", voice] if voice else []
    subprocess.run(["espeak-ng", *voice_args, "-w", str(spoken), text], check=True)
    path = TEST_VAR_DIR / "microphone.wav"
    with wave.open(str(spoken)) as source, wave.open(str(path), "wb") as out:
        out.setparams(source.getparams())
        out.writeframes(b"\0\0" * source.getframerate() * lead_s)
        out.writeframes(source.readframes(source.getnframes()))
        out.writeframes(b"\0\0" * source.getframerate() * silence_s)
    return path


def assert_clean(page) -> None:
    """What "Start a new call" leaves of the previous call: nothing."""
    assert page.locator("#transcript li.user, #transcript li.assistant").count() == 0
    assert page.locator("#tools li[data-key]").count() == 0
    assert page.is_hidden("#replay") and page.is_hidden("#error")
    history = page.get_attribute("#status", "data-history").split()
    assert "ended" not in history and "speaking" not in history, history
    assert page.get_attribute("#mute", "aria-pressed") == "false"
