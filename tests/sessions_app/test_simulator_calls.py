"""The provider simulator's OpenAI WebRTC calls, driven through the real ``openai`` SDK: an
aiortc caller (loopback only) creates a call, a sideband joins it by call id, it ends."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import openai
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from provider_simulator import ProviderSimulator, running_simulator
from tests.servers import free_port
from tests.sessions_app.sideband_client import (
    SESSION,
    Sideband,
    create_call,
    log_of,
    open_sideband,
    until_logged,
)
from tests.sessions_app.webrtc_client import BrowserPeer

REPO = Path(__file__).resolve().parents[2]

AUTH = {"Authorization": "Bearer sk-test"}
WEATHER_TOOL = {
    "type": "function",
    "name": "lookup_weather",
    "description": "Weather for a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


@pytest.fixture
async def sim() -> AsyncIterator[ProviderSimulator]:
    simulator = ProviderSimulator(call_connect_timeout=30)
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def api(sim) -> AsyncIterator[openai.AsyncOpenAI]:
    client = openai.AsyncOpenAI(api_key="sk-test", base_url=sim.base_url, max_retries=0)
    yield client
    await client.close()


@pytest.fixture
async def peer() -> AsyncIterator[BrowserPeer]:
    caller = BrowserPeer(label="oai-events")
    yield caller
    await caller.close()


async def test_spoken_turn_is_transcribed_on_the_sideband_and_the_reply_is_heard(sim, api, peer):
    call_id = await create_call(api, peer)
    sideband = Sideband(await api.realtime.connect(call_id=call_id).enter())
    created = await sideband.recv()
    assert created["type"] == "session.created"
    assert created["session"]["model"] == "gpt-realtime-2.1"
    assert created["session"]["instructions"] == "Be brief."
    sim.script_transcripts(["hello there"])

    peer.speak()
    completed = await sideband.until("conversation.item.input_audio_transcription.completed")
    assert completed["transcript"] == "hello there"
    response_id = (await sideband.until("response.created"))["response"]["id"]
    await peer.until_loud()
    done = await sideband.until("response.done")
    stopped = await sideband.until("output_audio_buffer.stopped", timeout=15)

    assert stopped["response_id"] == response_id == done["response"]["id"]
    types = sideband.types()
    assert types[:4] == [
        "session.created",
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
    ]
    assert "response.output_audio.delta" not in types  # the audio is on the track
    assert types.index("output_audio_buffer.started") < types.index("response.done")
    text = "".join(
        e["delta"] for e in sideband.events if e["type"] == "response.output_audio_transcript.delta"
    )
    assert text == "You said: hello there"
    assert peer.loud_frames > 10
    await peer.until_quiet(10)  # silence once the reply has played

    # The caller's data channel got the same events, session.created first.
    await peer.until("output_audio_buffer.stopped", response_id=response_id)
    assert peer.types()[0] == "session.created"
    assert [t for t in peer.types() if t != "session.created"] == types[1:]
    entries = [e["type"] for e in log_of(sim, call_id)]
    assert entries == [
        "simulator.call_created",
        "simulator.call_connected",
        "simulator.sideband_attached",
    ]
    await sideband.connection.close()


async def test_tool_call_on_the_sideband_and_its_answer_is_heard(sim, api, peer):
    call_id = await create_call(api, peer, {**SESSION, "tools": [WEATHER_TOOL]})
    sideband = await open_sideband(api, call_id)
    sim.script_transcripts(["please lookup weather in Paris"])
    sim.script_tool_arguments({"city": "Paris"})

    peer.speak()
    called = await sideband.until("response.function_call_arguments.done")
    assert called["name"] == "lookup_weather"
    assert json.loads(called["arguments"]) == {"city": "Paris"}
    await sideband.until("response.done")
    await peer.until_frames(10)
    assert peer.loud_frames == 0  # a tool call says nothing

    output = json.dumps({"spoken_response": "It is sunny in Paris."})
    await sideband.send(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "function_call_output",
                "call_id": called["call_id"],
                "output": output,
            },
        }
    )
    await sideband.send({"type": "response.create"})
    said = await sideband.until("response.output_audio_transcript.done")
    assert said["transcript"] == "It is sunny in Paris."
    await peer.until_loud()
    await sideband.until("output_audio_buffer.stopped", timeout=15)
    await sideband.connection.close()


async def test_barge_in_clears_the_playing_reply(sim, api, peer):
    call_id = await create_call(api, peer)
    sideband = await open_sideband(api, call_id)
    sim.script_transcripts(["tell me a long story " * 4])
    peer.speak()
    started = await sideband.until("output_audio_buffer.started")
    await peer.until_loud()
    peer.speak(speech_ms=300)  # the caller talks over the reply
    await sideband.until("input_audio_buffer.speech_started")
    cleared = await sideband.until("output_audio_buffer.cleared")
    assert cleared["response_id"] == started["response_id"]
    await sideband.until("conversation.item.input_audio_transcription.completed")
    await sideband.until("output_audio_buffer.stopped", timeout=15)
    stopped = [e for e in sideband.events if e["type"] == "output_audio_buffer.stopped"]
    assert stopped and started["response_id"] not in [e["response_id"] for e in stopped]
    await sideband.connection.close()


async def test_hangup_closes_the_sideband_and_the_call(sim, api, peer):
    call_id = await create_call(api, peer)
    sideband = await open_sideband(api, call_id)
    await api.realtime.calls.hangup(call_id)

    closed = await sideband.closed()
    assert closed.rcvd is not None and closed.rcvd.code == 1000
    assert closed.rcvd.reason == "the call was hung up"
    assert sim.call_ids() == []
    await until_logged(sim, call_id, {"type": "simulator.call_ended", "reason": "hangup"})
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("sim-call-")]
    async with asyncio.timeout(10):  # the simulator's peer is closed: the caller sees it
        while peer.pc.connectionState != "closed":
            await asyncio.sleep(0.05)
    with pytest.raises(openai.NotFoundError):
        await api.realtime.calls.hangup(call_id)
    with pytest.raises(InvalidStatus) as caught:
        await api.realtime.connect(call_id=call_id).enter()
    assert caught.value.response.status_code == 404


async def test_the_caller_closing_its_peer_ends_the_call(sim, api, peer):
    call_id = await create_call(api, peer)
    sideband = await open_sideband(api, call_id)
    await peer.pc.close()

    closed = await sideband.closed(timeout=15)
    assert closed.rcvd is not None and closed.rcvd.code == 1000
    assert closed.rcvd.reason == "the caller hung up"
    await until_logged(sim, call_id, {"type": "simulator.call_ended", "reason": "caller left"})
    assert sim.call_ids() == []


async def test_a_caller_that_never_connects_is_ended_after_the_connect_timeout():
    sim = ProviderSimulator(call_connect_timeout=1, max_calls=1)
    await sim.start()
    peer = BrowserPeer(label="oai-events")
    try:
        async with httpx.AsyncClient(base_url=sim.base_url, headers=AUTH) as http:
            offer = await peer.offer()  # never given the answer: it cannot connect
            headers = {"Content-Type": "application/sdp"}
            answer = await http.post("/realtime/calls", content=offer, headers=headers)
            assert answer.status_code == 201
            call_id = answer.headers["location"].rsplit("/", 1)[-1]
            other = await http.post("/realtime/calls", content=offer, headers=headers)
            assert other.status_code == 429  # at most one live call here
            assert other.json()["error"]["code"] == "rate_limit_exceeded"
            async with connect(f"{sim.ws_url}?call_id={call_id}", additional_headers=AUTH) as ws:
                session = json.loads(await ws.recv())["session"]
                assert session["model"] == "gpt-realtime"  # the default session
                with pytest.raises(ConnectionClosed) as caught:
                    async with asyncio.timeout(5):
                        while True:
                            await ws.recv()
            assert caught.value.rcvd.code == 1000
            assert caught.value.rcvd.reason == "the caller did not connect within 1 s"
        ended = {"type": "simulator.call_ended", "reason": "connect timeout"}
        assert ended in log_of(sim, call_id) and sim.call_ids() == []
    finally:
        await peer.close()
        await sim.stop()


async def test_unknown_calls_missing_bearer_and_bad_requests(sim, api, peer):
    call_id = await create_call(api, peer)
    unknown = "rtc_" + "0" * 32
    with pytest.raises(openai.NotFoundError) as missing:
        await api.realtime.calls.hangup(unknown)
    assert missing.value.body["code"] == "call_id_not_found"
    with pytest.raises(InvalidStatus) as caught:
        await api.realtime.connect(call_id=unknown).enter()
    assert caught.value.response.status_code == 404
    assert json.loads(caught.value.response.body)["error"] == {
        "type": "invalid_request_error",
        "code": "call_id_not_found",
        "message": "No session found for the provided call_id",
        "param": "call_id",
    }

    async with httpx.AsyncClient(base_url=sim.base_url) as http:
        assert (await http.post(f"/realtime/calls/{call_id}/hangup")).status_code == 401
        sdp = {"Content-Type": "application/sdp"}
        assert (await http.post("/realtime/calls", content="v=0", headers=sdp)).status_code == 401
        with pytest.raises(InvalidStatus) as caught:
            async with connect(f"{sim.ws_url}?call_id={call_id}"):
                pass
        assert caught.value.response.status_code == 401
        with pytest.raises(InvalidStatus) as caught:
            async with connect(f"{sim.ws_url}?call_id={call_id}&model=m", additional_headers=AUTH):
                pass
        assert caught.value.response.status_code == 400
        bad = await http.post("/realtime/calls", content="not sdp", headers={**AUTH, **sdp})
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "sdp"
        plain = await http.post("/realtime/calls", content="v=0", headers=AUTH)
        assert plain.status_code == 400
    other = BrowserPeer(label="oai-events")
    try:
        with pytest.raises(openai.BadRequestError) as caught:
            await api.realtime.calls.create(sdp=await other.offer(), session={"model": "m"})
    finally:
        await other.close()
    assert caught.value.body["param"] == "session.type"
    assert caught.value.body["message"] == "Missing required parameter: 'session.type'."
    with pytest.raises(openai.BadRequestError):
        await api.realtime.calls.create(sdp="v=0\r\n", session=SESSION)
    assert sim.call_ids() == [call_id]  # none of these made or ended a call


async def test_sideband_session_update_needs_its_type_and_reaches_every_sideband(sim, api, peer):
    call_id = await create_call(api, peer)
    first, second = await open_sideband(api, call_id), await open_sideband(api, call_id)
    await first.send({"type": "session.update", "session": {"instructions": "x"}})
    error = (await first.until("error"))["error"]
    assert error["message"] == "Missing required parameter: 'session.type'."
    assert error["param"] == "session.type"
    await first.send(
        {"type": "session.update", "session": {"type": "realtime", "instructions": "Shorter."}}
    )
    for sideband in (first, second):
        updated = await sideband.until("session.updated")
        assert updated["session"]["instructions"] == "Shorter."
    await second.send({"type": "output_audio_buffer.clear"})
    await first.until("output_audio_buffer.cleared")  # WebRTC-only: accepted on calls
    peer.send({"type": "session.update", "session": {"type": "realtime", "instructions": "Hi."}})
    updated = await second.until("session.updated")  # the caller's data channel is heard too
    assert updated["session"]["instructions"] == "Hi."
    await first.connection.close()
    await second.connection.close()


async def test_drop_fault_aborts_the_sideband_and_the_call_goes_on(sim, api, peer):
    call_id = await create_call(api, peer)
    sideband = await open_sideband(api, call_id)
    assert await sim.inject_fault("drop", "now") == 1
    closed = await sideband.closed()
    assert closed.rcvd is None  # no close frame: the TCP connection was cut
    assert sim.call_ids() == [call_id]

    again = await open_sideband(api, call_id)
    await sim.call_turn(call_id, "still there?")
    completed = await again.until("conversation.item.input_audio_transcription.completed")
    assert completed["transcript"] == "still there?"
    await api.realtime.calls.hangup(call_id)
    assert (await again.closed()).rcvd.code == 1000


async def test_call_turn_control_drives_a_turn_without_media(sim, api, peer):
    call_id = await create_call(api, peer)
    sideband = await open_sideband(api, call_id)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{sim.port}") as http:
        answer = await http.post("/control/call-turn", json={"call_id": call_id, "text": "hi"})
        assert answer.status_code == 200 and answer.json() == {"ok": True}
        done = await sideband.until("response.done")
        missing = await http.post("/control/call-turn", json={"call_id": "rtc_x", "text": "hi"})
        assert missing.status_code == 404
        empty = await http.post("/control/call-turn", json={"call_id": call_id, "text": ""})
        assert empty.status_code == 400
        manual = {"type": "realtime", "audio": {"input": {"turn_detection": None}}}
        await sideband.send({"type": "session.update", "session": manual})
        await sideband.until("session.updated")
        off = await http.post("/control/call-turn", json={"call_id": call_id, "text": "hi"})
        assert off.status_code == 409

    assert [t for t in sideband.types() if "transcript.delta" not in t][:7] == [
        "session.created",
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
        "conversation.item.input_audio_transcription.completed",
    ]
    transcribed = next(e for e in sideband.events if e["type"].endswith("transcription.completed"))
    assert transcribed["transcript"] == "hi"
    assert done["response"]["output"][0]["content"][0]["transcript"] == "You said: hi"
    await peer.until_loud()  # the reply is spoken to the caller all the same
    await sideband.connection.close()


async def test_stop_ends_live_calls(api, sim, peer):
    call_id = await create_call(api, peer)
    sideband = await open_sideband(api, call_id)
    await sim.stop()
    closed = await sideband.closed()
    assert closed.rcvd is not None and closed.rcvd.code == 1001
    assert sim.call_ids() == [] and sim.state.connections == {}
    await until_logged(
        sim, call_id, {"type": "simulator.call_ended", "reason": "simulator stopped"}
    )


def test_simulator_handle_controls_calls():
    with running_simulator(call_connect_timeout=5) as handle:
        assert handle.call_ids() == []
        assert handle.hang_up("rtc_unknown") is False
        with pytest.raises(KeyError):
            handle.call_turn("rtc_unknown", "hello")


async def test_management_command_takes_the_call_connect_timeout():
    port = free_port()
    argv = [sys.executable, "manage.py", "provider_simulator", "--port", str(port)]
    process = await asyncio.create_subprocess_exec(
        *argv, "--call-connect-timeout", "1", cwd=REPO, stdout=asyncio.subprocess.PIPE
    )
    peer = BrowserPeer(label="oai-events")
    try:
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        assert line.decode().strip().endswith(f"127.0.0.1:{port}/v1")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}/v1") as http:
            headers = {**AUTH, "Content-Type": "application/sdp"}
            answer = await http.post("/realtime/calls", content=await peer.offer(), headers=headers)
        call_id = answer.headers["location"].rsplit("/", 1)[-1]
        url = f"ws://127.0.0.1:{port}/v1/realtime?call_id={call_id}"
        async with connect(url, additional_headers=AUTH) as ws:
            with pytest.raises(ConnectionClosed) as caught:
                async with asyncio.timeout(5):
                    while True:
                        await ws.recv()
        assert caught.value.rcvd.reason == "the caller did not connect within 1 s"
    finally:
        await peer.close()
        if process.returncode is None:
            process.terminate()
        assert await asyncio.wait_for(process.wait(), 10) == 0
