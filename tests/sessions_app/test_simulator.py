"""The provider simulator, driven over a real WebSocket with the ``websockets`` client."""

from __future__ import annotations

import asyncio
import base64
import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosedError, InvalidStatus
from websockets.sync.client import connect as sync_connect

from provider_simulator import SAY_PREFIX, ProviderSimulator, running_simulator
from provider_simulator import audio as sim_audio
from tests.servers import free_port

REPO = Path(__file__).resolve().parents[2]
AUTH = {"Authorization": "Bearer sk-test"}
WEATHER_TOOL = {
    "type": "function",
    "name": "lookup_weather",
    "description": "Weather for a city.",
    "parameters": {
        "type": "object",
        "properties": {"units": {"type": "string"}, "city": {"type": "string"}},
        "required": ["city"],
    },
}


class Client:
    """A thin realtime client: send events, read until a given event type."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self._ids = 0

    async def send(self, type_: str, **fields: Any) -> str:
        self._ids += 1
        event_id = f"evt_client_{self._ids}"
        await self.ws.send(json.dumps({"type": type_, "event_id": event_id, **fields}))
        return event_id

    async def append(self, pcm: bytes) -> None:
        for chunk in sim_audio.chunks(pcm):
            await self.send("input_audio_buffer.append", audio=base64.b64encode(chunk).decode())

    async def recv(self) -> dict[str, Any]:
        async with asyncio.timeout(5):
            return json.loads(await self.ws.recv())

    async def until(self, type_: str) -> list[dict[str, Any]]:
        """Events up to and including the first of ``type_``."""
        events = []
        while True:
            event = await self.recv()
            assert event["event_id"].startswith("event_")
            events.append(event)
            if event["type"] == type_:
                return events


def untimed(log: list[dict]) -> list[dict]:
    """Log entries without their timestamps, for comparing whole entries."""
    return [{k: v for k, v in entry.items() if k != "t"} for entry in log]


def types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events if e["type"] != "response.output_audio.delta"]


def spoken(events: list[dict[str, Any]]) -> tuple[bytes, str]:
    """The audio and the transcript (from the deltas) of a response's events."""
    pcm = b"".join(
        base64.b64decode(e["delta"]) for e in events if e["type"] == "response.output_audio.delta"
    )
    text = "".join(
        e["delta"] for e in events if e["type"] == "response.output_audio_transcript.delta"
    )
    return pcm, text


@pytest.fixture
async def sim():
    simulator = ProviderSimulator()
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def client(sim):
    async with connect(f"{sim.ws_url}?model=gpt-realtime", additional_headers=AUTH) as ws:
        c = Client(ws)
        created = await c.recv()
        assert created["type"] == "session.created"
        yield c


async def manual_turns(client: Client) -> None:
    await client.send(
        "session.update", session={"type": "realtime", "audio": {"input": {"turn_detection": None}}}
    )
    await client.until("session.updated")


async def typed_turn(client: Client, text: str) -> None:
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    await client.send("conversation.item.create", item=item)
    await client.until("conversation.item.done")


async def test_connect_without_auth_is_401(sim):
    with pytest.raises(InvalidStatus) as caught:
        async with connect(sim.ws_url):
            pass
    assert caught.value.response.status_code == 401
    assert json.loads(caught.value.response.body)["error"]["code"] == "invalid_api_key"
    async with httpx.AsyncClient() as http:
        answer = await http.get(f"{sim.base_url}/realtime", headers={"Authorization": "Basic x"})
    assert answer.status_code == 401
    assert answer.json()["error"]["type"] == "invalid_request_error"


async def test_session_created_and_update(sim):
    async with connect(f"{sim.ws_url}?model=gpt-realtime-mini", additional_headers=AUTH) as ws:
        c = Client(ws)
        session = (await c.recv())["session"]
        assert session["type"] == "realtime" and session["model"] == "gpt-realtime-mini"
        assert session["audio"]["output"] == {
            "format": {"type": "audio/pcm", "rate": 24000},
            "voice": "marin",
            "speed": 1.0,
        }
        assert session["audio"]["input"]["turn_detection"]["type"] == "server_vad"
        assert session["instructions"]

        patch = {
            "type": "realtime",
            "instructions": "Be brief.",
            "tools": [WEATHER_TOOL],
            "audio": {"output": {"voice": "cedar"}, "input": {"turn_detection": None}},
        }
        await c.send("session.update", session=patch)
        updated = (await c.until("session.updated"))[-1]["session"]
        assert updated["instructions"] == "Be brief."
        assert updated["audio"]["output"]["voice"] == "cedar"
        assert updated["audio"]["output"]["format"] == {"type": "audio/pcm", "rate": 24000}
        assert updated["audio"]["input"]["turn_detection"] is None
        assert updated["tools"] == [WEATHER_TOOL]

        event_id = await c.send("session.update", session={"instructions": "x"})
        error = (await c.until("error"))[-1]["error"]
        assert error["code"] == "invalid_request_error"
        assert error["param"] == "session.type" and error["event_id"] == event_id


async def test_server_vad_turn_and_automatic_reply(sim, client):
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{sim.port}") as http:
        answer = await http.post("/control/transcripts", json={"transcripts": ["hello there"]})
        assert answer.json() == {"queued": 1}
        await client.append(sim_audio.tone(800) + sim_audio.silence(700))
        events = await client.until("response.done")
        log = (await http.get("/control/log")).json()["events"]

    assert types(events) == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
        "conversation.item.input_audio_transcription.completed",
        "response.created",
        "response.output_item.added",
        "response.content_part.added",
        *["response.output_audio_transcript.delta"] * 4,
        "response.output_audio.done",
        "response.output_audio_transcript.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.done",
    ]
    by_type = {e["type"]: e for e in events}
    started = by_type["input_audio_buffer.speech_started"]
    assert started["audio_start_ms"] == 0
    assert by_type["input_audio_buffer.speech_stopped"]["audio_end_ms"] == 1300
    assert by_type["input_audio_buffer.committed"]["item_id"] == started["item_id"]
    completed = by_type["conversation.item.input_audio_transcription.completed"]
    assert completed["transcript"] == "hello there" and completed["item_id"] == started["item_id"]
    pcm, text = spoken(events)
    assert text == "You said: hello there"
    assert by_type["response.output_audio_transcript.done"]["transcript"] == text
    assert len(pcm) > 24_000 and sim_audio.rms(pcm) > 500
    delta = by_type["response.output_audio.delta"]
    assert delta["output_index"] == 0 and delta["content_index"] == 0
    assert delta["response_id"] == by_type["response.created"]["response"]["id"]
    done = by_type["response.done"]["response"]
    assert done["status"] == "completed"
    assert done["output"][0]["content"][0]["transcript"] == text
    appends = [e for e in log if e["type"] == "input_audio_buffer.append"]
    assert len(appends) == 15 and appends[0]["audio_bytes"] == 4800 and "audio" not in appends[0]
    assert {"connection": 1, "type": "simulator.spoke", "text": text} in untimed(log)


async def test_manual_commit_default_transcript_and_no_auto_reply(client):
    await manual_turns(client)
    await client.append(sim_audio.tone(500))
    await client.send("input_audio_buffer.commit")
    events = await client.until("conversation.item.input_audio_transcription.completed")
    assert events[-1]["transcript"] == "speech of 500 milliseconds"
    await client.send("input_audio_buffer.clear")
    assert types(await client.until("input_audio_buffer.cleared")) == ["input_audio_buffer.cleared"]
    await client.send("response.create")
    _, text = spoken(await client.until("response.done"))
    assert text == "You said: speech of 500 milliseconds"


async def test_function_call_then_tool_result(sim, client):
    await client.send("session.update", session={"type": "realtime", "tools": [WEATHER_TOOL]})
    await client.until("session.updated")
    await typed_turn(client, "Please lookup weather in Paris")
    await client.send("response.create")
    events = await client.until("response.done")
    assert types(events) == [
        "response.created",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.done",
    ]
    added, _, args_done, item_done, done = events[1:]
    assert added["item"]["type"] == "function_call" and added["item"]["arguments"] == ""
    assert added["item"]["status"] == "in_progress"
    call_id = args_done["call_id"]
    assert call_id.startswith("call_") and args_done["name"] == "lookup_weather"
    assert json.loads(args_done["arguments"]) == {"city": "Please lookup weather in Paris"}
    assert item_done["item"]["status"] == "completed"
    assert item_done["item"]["arguments"] == args_done["arguments"]
    assert done["response"]["output"][0]["call_id"] == call_id

    output = json.dumps({"spoken_response": "It is sunny in Paris."})
    item = {"type": "function_call_output", "call_id": call_id, "output": output}
    await client.send("conversation.item.create", item=item)
    assert (await client.until("conversation.item.done"))[-1]["item"]["call_id"] == call_id
    await client.send("response.create")
    _, text = spoken(await client.until("response.done"))
    assert text == "It is sunny in Paris."

    # The same user turn never calls twice; a plain output is summarised.
    item = {"type": "function_call_output", "call_id": call_id, "output": "42 degrees"}
    await client.send("conversation.item.create", item=item)
    await client.until("conversation.item.done")
    await client.send("response.create")
    _, text = spoken(await client.until("response.done"))
    assert text == "The tool returned: 42 degrees"

    # Scripted arguments win; the tool name may be spoken with spaces.
    sim.script_tool_arguments({"city": "Oslo", "units": "metric"})
    await typed_turn(client, "LOOKUP WEATHER again")
    await client.send("response.create")
    events = await client.until("response.done")
    args_done = next(e for e in events if e["type"] == "response.function_call_arguments.done")
    assert json.loads(args_done["arguments"]) == {"city": "Oslo", "units": "metric"}


async def test_say_prefix_speaks_exact_text(sim, client):
    text = "Exactly this, and no more: 3 apples."
    await client.send("response.create", response={"instructions": SAY_PREFIX + text})
    events = await client.until("response.done")
    pcm, transcript = spoken(events)
    assert transcript == text and sim_audio.rms(pcm) > 500
    assert events[-1]["response"]["output"][0]["content"][0]["transcript"] == text
    assert {"connection": 1, "type": "simulator.spoke", "text": text} in untimed(sim.log())


async def test_commit_empty_is_an_error(client):
    event_id = await client.send("input_audio_buffer.commit")
    error = (await client.until("error"))[-1]["error"]
    assert error["code"] == "input_audio_buffer_commit_empty" and error["event_id"] == event_id


async def test_response_cancel_and_one_active_response(sim, client):
    event_id = await client.send("response.cancel")
    error = (await client.until("error"))[-1]["error"]
    assert error["code"] == "response_cancel_not_active" and error["event_id"] == event_id

    sim.set_pace(1.0)
    await client.send("response.create")
    response_id = (await client.until("response.created"))[-1]["response"]["id"]
    event_id = await client.send("response.create")
    events = await client.until("error")
    assert events[-1]["error"]["code"] == "conversation_already_has_active_response"
    assert events[-1]["error"]["event_id"] == event_id
    assert "response.done" not in types(events)
    await client.send("response.cancel")
    done = (await client.until("response.done"))[-1]["response"]
    assert done["id"] == response_id and done["status"] == "cancelled"
    assert done["status_details"]["reason"] == "client_cancelled"


async def test_unknown_and_invalid_events_are_errors(client):
    event_id = await client.send("conversation.frobnicate")
    error = (await client.until("error"))[-1]["error"]
    assert error == {
        "type": "invalid_request_error",
        "code": "unknown_event",
        "message": error["message"],
        "param": "type",
        "event_id": event_id,
    }
    await client.ws.send("{not json")
    assert (await client.until("error"))[-1]["error"]["code"] == "invalid_json"
    await client.send("input_audio_buffer.append", audio="***")
    assert (await client.until("error"))[-1]["error"]["param"] == "audio"
    await client.send("conversation.item.create", item={"type": "mystery"})
    assert (await client.until("error"))[-1]["error"]["param"] == "item.type"
    await client.send("session.update", session={"type": "realtime"})
    assert (await client.until("session.updated"))[-1]["type"] == "session.updated"


async def test_fault_error_keeps_the_socket(sim, client):
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{sim.port}") as http:
        answer = await http.post("/control/faults", json={"kind": "error", "when": "now"})
        assert answer.json() == {"applied": 1, "pending": 0}
        error = (await client.until("error"))[-1]["error"]
        assert error["type"] == "server_error" and error["code"] == "simulated_error"
        assert error["message"] == "simulated provider error"

        await http.post("/control/faults", json={"kind": "error", "when": "next_response"})
        await client.send("response.create")
        assert types(await client.until("error")) == ["error"]
        await client.send("response.create")
        assert (await client.until("response.done"))[-1]["response"]["status"] == "completed"


async def test_fault_drop_closes_without_close_frame(sim, client):
    assert await sim.inject_fault("drop", "now") == 1
    with pytest.raises(ConnectionClosedError) as caught:
        await client.recv()
    assert caught.value.rcvd is None

    await sim.inject_fault("drop", "next_turn")
    async with connect(sim.ws_url, additional_headers=AUTH) as ws:
        other = Client(ws)
        await other.recv()
        await other.send("response.create")  # not a turn: unaffected
        await other.until("response.done")
        with pytest.raises(ConnectionClosedError):
            await typed_turn(other, "hello")
    assert sim.state.faults == []


async def test_barge_in_cancels_a_paced_response(sim, client):
    sim.set_pace(1.0)
    sim.script_transcripts(["tell me a long story " * 5])
    await client.append(sim_audio.tone(300) + sim_audio.silence(600))
    events = await client.until("response.created")
    response_id = events[-1]["response"]["id"]
    for _ in range(2):
        await client.until("response.output_audio.delta")
    await client.append(sim_audio.tone(200))
    events = await client.until("response.done")
    assert "input_audio_buffer.speech_started" in types(events)
    done = events[-1]["response"]
    assert done["id"] == response_id and done["status"] == "cancelled"
    assert done["status_details"]["reason"] == "turn_detected"
    assert done["output"][0]["status"] == "incomplete"
    pcm, _ = spoken(events)
    assert len(pcm) < 10 * sim_audio.CHUNK_BYTES  # far less than the whole reply


async def test_control_endpoints(sim):
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{sim.port}") as http:
        assert (await http.post("/control/pace", json={"pace": 2})).json() == {"pace": 2.0}
        assert (await http.post("/control/pace", json={"pace": -1})).status_code == 400
        assert (await http.post("/control/faults", json={"kind": "boom"})).status_code == 400
        assert (
            await http.post("/control/transcripts", json={"transcripts": [1]})
        ).status_code == 400
        assert (await http.post("/control/tool-arguments", content=b"[")).status_code == 400
        answer = await http.post("/control/tool-arguments", json={"arguments": {"a": 1}})
        assert answer.json() == {"queued": 1}
        answer = await http.post("/control/faults", json={"kind": "drop", "when": "next_turn"})
        assert answer.json() == {"applied": 0, "pending": 1}
        assert (await http.post("/control/reset")).json() == {"ok": True}
        assert (await http.get("/control/log")).json() == {"events": []}
    assert sim.state.pace == 0.0 and not sim.state.faults and not sim.state.tool_arguments


def test_running_simulator_in_a_thread():
    with running_simulator() as handle:
        assert handle.base_url == f"http://127.0.0.1:{handle.port}/v1"
        handle.script_transcripts(["first"])
        with sync_connect(handle.ws_url, additional_headers=AUTH) as ws:
            assert json.loads(ws.recv(timeout=5))["type"] == "session.created"
            item = {"type": "message", "role": "user", "content": [{"type": "input_text"}]}
            ws.send(json.dumps({"type": "conversation.item.create", "item": item}))
            assert json.loads(ws.recv(timeout=5))["type"] == "conversation.item.added"
            assert handle.inject_fault("error") == 1
        log = [e for e in handle.log() if e["type"] != "simulator.disconnected"]  # racy
        assert [e["type"] for e in log] == [
            "simulator.connected",
            "conversation.item.create",
            "simulator.fault",
        ]
        handle.reset()
        assert handle.log() == []


def test_energy_vad_uses_audio_time():
    vad = sim_audio.EnergyVad(threshold=0.5, silence_ms=200)
    assert vad.level == 800
    quiet = sim_audio.tone(500, amplitude=700)  # RMS ~495: below the threshold
    assert vad.feed(quiet) == []
    events = vad.feed(sim_audio.tone(100)[:1000]) + vad.feed(sim_audio.tone(100)[1000:])
    events += vad.feed(sim_audio.silence(300))
    assert events == [sim_audio.VadEvent("start", 500), sim_audio.VadEvent("stop", 800)]


def test_synthesis_with_espeak_and_the_tone_fallback(monkeypatch):
    assert sim_audio.espeak_path(), "install espeak-ng: apt-get install -y espeak-ng"
    speech = sim_audio.synthesize("hello world")
    assert speech != sim_audio.tone_for_text("hello world")
    assert 300 < sim_audio.duration_ms(speech) < 3000 and sim_audio.rms(speech) > 500

    monkeypatch.setattr(sim_audio.shutil, "which", lambda name: None)
    fallback = sim_audio.synthesize("hello world")
    assert fallback == sim_audio.tone(60 * len("hello world"))
    assert sim_audio.rms(fallback) > 5000


def test_management_command_serves_until_sigterm():
    port = free_port()
    argv = [sys.executable, "manage.py", "provider_simulator", "--port", str(port), "--pace", "0"]
    with subprocess.Popen(
        argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        try:
            line = process.stdout.readline()
            assert line.strip() == f"provider simulator listening on http://127.0.0.1:{port}/v1"
            assert httpx.post(f"http://127.0.0.1:{port}/control/reset").json() == {"ok": True}
            url = f"ws://127.0.0.1:{port}/v1/realtime?model=m"
            with sync_connect(url, additional_headers=AUTH) as ws:
                assert json.loads(ws.recv(timeout=5))["type"] == "session.created"
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=10) == 0, process.stderr.read()
        finally:
            if process.poll() is None:
                process.kill()


async def test_stop_closes_live_connections():
    simulator = ProviderSimulator(pace=1.0)
    await simulator.start()
    async with connect(simulator.ws_url, additional_headers=AUTH) as ws:
        c = Client(ws)
        await c.recv()
        await c.send("response.create")
        await c.until("response.created")
        await simulator.stop()
        with pytest.raises(websockets.ConnectionClosedOK) as caught:
            while True:
                await c.recv()
        assert caught.value.rcvd.code == 1001
    assert simulator.state.connections == {}


async def test_openrouter_audio_streams_pcm16_speech_over_sse(sim):
    from tests.sessions_app.audio_clips import b64, wav

    clip = {"data": b64(wav(800)), "format": "wav"}
    audio_turn = {
        "model": "openai/gpt-audio-mini",
        "modalities": ["text", "audio"],
        "audio": {"voice": "alloy", "format": "pcm16"},
        "stream": True,
        "messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": clip}]}],
    }
    async with httpx.AsyncClient(base_url=sim.base_url) as http:
        assert (await http.post("/chat/completions", json=audio_turn)).status_code == 401
        text_only = {
            **audio_turn,
            "modalities": ["text"],
            "messages": [{"role": "user", "content": "hi"}],
        }
        assert (
            await http.post("/chat/completions", json=text_only, headers=AUTH)
        ).status_code == 400
        unstreamed = {**audio_turn, "stream": False}
        answer = await http.post("/chat/completions", json=unstreamed, headers=AUTH)
        assert answer.json()["error"]["message"] == "audio output requires stream: true"
        heard = await http.post(
            "/audio/transcriptions", json={"model": "whisper", "input_audio": clip}, headers=AUTH
        )
        assert heard.json()["text"] == "speech of 800 milliseconds"
        answer = await http.post("/chat/completions", json=audio_turn, headers=AUTH)
    assert answer.headers["content-type"].startswith("text/event-stream")
    lines = answer.text.split("\n\n")
    assert lines[0] == ": OPENROUTER PROCESSING" and lines[-2:] == ["data: [DONE]", ""]
    chunks = [json.loads(line[6:]) for line in lines if line.startswith("data: {")]
    deltas = [c["choices"][0]["delta"].get("audio") for c in chunks[:-1]]
    pcm = b"".join(base64.b64decode(d["data"]) for d in deltas)
    assert "".join(d["transcript"] for d in deltas) == "You said: speech of 800 milliseconds"
    assert len(pcm) > 24_000 * 2 // 2  # half a second of pcm16 24 kHz speech at least
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop" and "usage" in chunks[-1]
    assert answer.headers["X-Generation-Id"] == chunks[0]["id"]


async def test_openrouter_faults_are_validated_and_queued(sim):
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{sim.port}") as http:
        for bad in ({"kind": "cut", "when": "next_transcription"},
                    {"kind": "http_error", "when": "now"},
                    {"kind": "http_error", "when": "next_request", "status": "500"}):  # fmt: skip
            assert (await http.post("/control/faults", json=bad)).status_code == 400
        fault = {"kind": "http_error", "when": "next_request", "status": 429, "message": "slow"}
        assert (await http.post("/control/faults", json=fault)).json() == {
            "applied": 0,
            "pending": 1,
        }
    assert sim.state.faults[0].status == 429
