"""The provider simulator hears what a caller says (``transcribe="speech"``, ``make run``):
espeak-ng speech, fed through each of its real input paths (a realtime WebSocket's appends,
OpenRouter's audio uploads, a WebRTC call's microphone), is transcribed by the offline
recognizer, and the demo's reasoner finds the order it names. Scripted transcripts still
come first; ``duration`` (the default) still names a turn by its length."""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import json
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from websockets.asyncio.client import connect

from provider_simulator import ProviderSimulator, audio, recognizer
from tests.sessions_app.sideband_client import Sideband, create_call
from tests.sessions_app.webrtc_client import BrowserPeer

REPO = Path(__file__).resolve().parents[2]
AUTH = {"Authorization": "Bearer sk-test"}
# espeak-ng's US English with the "m3" variant: of the voices tried, the one PocketSphinx's
# model hears best (its default voice's "where is my order" comes out as "or").
VOICE = ["-v", "en-us+m3"]
ASK_1042 = "where is my order one zero four two"

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")


def espeak_wav(text: str, folder: Path) -> bytes:
    """``espeak-ng -w out.wav <text>``: a WAV file of ``text`` spoken."""
    path = folder / "speech.wav"
    subprocess.run(["espeak-ng", *VOICE, "-w", str(path), "--", text], check=True, timeout=30)
    return path.read_bytes()


def speech(text: str, folder: Path) -> bytes:
    """``text`` spoken, as pcm16 24 kHz mono (the simulator's input audio)."""
    return audio.wav_to_pcm24k(espeak_wav(text, folder))


def example_answer(text: str) -> dict[str, Any]:
    """The demo reasoner's answer (``examples/voice_support/agent.py``'s ``answer``)."""
    path = REPO / "examples" / "voice_support" / "agent.py"
    spec = importlib.util.spec_from_file_location("voice_support_agent", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.answer(text)


def assert_about_1042(transcript: str) -> None:
    assert "order" in transcript.split(), transcript
    assert "milliseconds" not in transcript
    result = example_answer(transcript)
    assert result["order_number"] == "1042", (transcript, result)
    assert result["spoken_response"].startswith("Order 1042, noise-cancelling headphones")


@pytest.fixture
async def hearing_sim() -> AsyncIterator[ProviderSimulator]:
    simulator = ProviderSimulator(transcribe="speech")
    await simulator.start()
    yield simulator
    await simulator.stop()


async def realtime_turn(sim: ProviderSimulator, pcm: bytes) -> tuple[str, str]:
    """Append ``pcm`` then silence over the realtime WebSocket (100 ms chunks, as the relay
    sends them); the turn's transcript and the spoken reply's text."""
    async with connect(f"{sim.ws_url}?model=gpt-realtime-2", additional_headers=AUTH) as ws:
        assert json.loads(await ws.recv())["type"] == "session.created"
        for chunk in audio.chunks(pcm + audio.silence(800)):
            encoded = base64.b64encode(chunk).decode()
            await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": encoded}))
        transcript, reply = None, ""
        async with asyncio.timeout(60):
            while True:
                event = json.loads(await ws.recv())
                if event["type"] == "conversation.item.input_audio_transcription.completed":
                    transcript = event["transcript"]
                elif event["type"] == "response.output_audio_transcript.delta":
                    reply += event["delta"]
                elif event["type"] == "response.done":
                    return transcript, reply


@pytest.mark.parametrize("said", [ASK_1042, "where is my order 1042"])
async def test_a_realtime_websocket_turn_is_heard_and_the_reasoner_finds_the_order(
    hearing_sim, tmp_path, said
):
    transcript, reply = await realtime_turn(hearing_sim, speech(said, tmp_path))

    assert_about_1042(transcript)
    assert reply == f"You said: {transcript}"


async def test_scripted_transcripts_win_and_duration_mode_names_the_length(hearing_sim, tmp_path):
    pcm = speech(ASK_1042, tmp_path)
    hearing_sim.script_transcripts(["order 2077 please"])
    transcript, _ = await realtime_turn(hearing_sim, pcm)
    assert transcript == "order 2077 please"

    counting = ProviderSimulator()  # transcribe="duration", what tests and benchmarks use
    await counting.start()
    try:
        transcript, _ = await realtime_turn(counting, pcm)
    finally:
        await counting.stop()
    assert transcript.startswith("speech of ") and transcript.endswith(" milliseconds")


async def test_openrouter_audio_uploads_are_heard(hearing_sim, tmp_path):
    clip = {"data": base64.b64encode(espeak_wav(ASK_1042, tmp_path)).decode(), "format": "wav"}
    turn = {
        "model": "openai/gpt-audio-mini",
        "modalities": ["text", "audio"],
        "audio": {"voice": "alloy", "format": "pcm16"},
        "stream": True,
        "messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": clip}]}],
    }
    async with httpx.AsyncClient(base_url=hearing_sim.base_url, timeout=60) as http:
        heard = await http.post(
            "/audio/transcriptions", json={"model": "whisper", "input_audio": clip}, headers=AUTH
        )
        answer = await http.post("/chat/completions", json=turn, headers=AUTH)

    text = heard.json()["text"]
    assert_about_1042(text)
    chunks = [json.loads(line[6:]) for line in answer.text.split("\n\n") if line[:7] == "data: {"]
    said = "".join(c["choices"][0]["delta"]["audio"]["transcript"] for c in chunks[:-1])
    assert said == f"You said: {text}"  # the same clip, the same transcript


async def test_a_webrtc_call_hears_the_callers_microphone(hearing_sim, tmp_path):
    api = openai.AsyncOpenAI(api_key="sk-test", base_url=hearing_sim.base_url, max_retries=0)
    peer = BrowserPeer(label="oai-events")
    try:
        call_id = await create_call(api, peer)
        sideband = Sideband(await api.realtime.connect(call_id=call_id).enter())
        assert (await sideband.recv())["type"] == "session.created"

        peer.mic.push(speech(ASK_1042, tmp_path) + audio.silence(800))
        event = "conversation.item.input_audio_transcription.completed"
        completed = await sideband.until(event, timeout=60)
        assert_about_1042(completed["transcript"])
        await sideband.connection.close()
    finally:
        await peer.close()
        await api.close()


def test_the_recognizer_hears_nothing_in_silence_and_too_little_audio():
    hearer = recognizer.shared()
    assert hearer.transcribe(b"") == ""
    assert hearer.transcribe(audio.silence(50)) == ""
    assert recognizer.to_decoder_rate(audio.silence(300)) == bytes(300 * 32)  # 16 kHz


async def test_nothing_heard_falls_back_to_the_length(hearing_sim):
    assert await hearing_sim.state.hear(audio.silence(50)) == "speech of 50 milliseconds"


def test_the_management_command_refuses_an_unknown_transcribe_mode():
    argv = ["manage.py", "provider_simulator", "--transcribe", "whisper"]
    run = subprocess.run([sys.executable, *argv], cwd=REPO, capture_output=True, timeout=60)
    assert run.returncode != 0
    assert b"invalid choice: 'whisper'" in run.stderr


def test_make_run_starts_the_simulator_hearing_speech():
    from devtools.management.commands.run_stack import stack_children

    children = stack_children("127.0.0.1", 8000, 8765, 1)
    simulator = next(child for child in children if child.name == "provider simulator")
    assert simulator.argv[2:] == ["provider_simulator", "--transcribe=speech", "--port", "8765"]
    assert all("provider_simulator" not in child.argv for child in children[1:])
