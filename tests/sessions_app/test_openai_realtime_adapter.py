"""OpenAIRealtimeAdapter against a scripted OpenAI realtime double on loopback
(``openai_realtime_double``), which fails on any client event it did not expect. No database.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
from http import HTTPStatus
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve

from sessions_app.providers import openai_realtime
from sessions_app.providers.base import (
    AssistantTranscript,
    AudioOut,
    ProviderClosed,
    ProviderError,
    ProviderEvent,
    ProviderUnavailable,
    ResponseDone,
    ResponseStarted,
    SpeechStarted,
    SpeechStopped,
    ToolCall,
    ToolSpec,
    UserTranscript,
)
from sessions_app.providers.openai_realtime import (
    DEFAULT_INSTRUCTIONS,
    MISSING_KEY,
    SAY_PREFIX,
    OpenAIRealtimeAdapter,
    adapter_from_settings,
    derive_base_urls,
)
from sessions_app.providers.openai_realtime import adapter as openai_connection
from tests.sessions_app.openai_realtime_double import (
    MODEL,
    SECRET,
    Double,
    Peer,
    b64,
    closed_port,
    config,
    drain,
    opened,
    take,
    until_reading,
    within,
)

# Opening --------------------------------------------------------------------------------------

LOOKUP = ToolSpec(
    name="lookup",
    description="Look a thing up.",
    parameters={"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
)
VAD = {"type": "server_vad", "silence_duration_ms": 500, "create_response": True}


async def test_open_sends_the_exact_session_update_and_waits_for_session_updated() -> None:
    update_seen, confirm = asyncio.Event(), asyncio.Event()
    expected_session = {
        "type": "realtime",
        "model": MODEL,
        "instructions": "Be terse.",
        "output_modalities": ["audio"],
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "transcription": {"model": "gpt-4o-mini-transcribe"},
                "turn_detection": {**VAD, "create_response": False},
            },
            "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "cedar"},
        },
        "tools": [
            {
                "type": "function",
                "name": "lookup",
                "description": "Look a thing up.",
                "parameters": LOOKUP.parameters,
            }
        ],
        "tool_choice": "auto",
    }

    async def script(peer: Peer) -> None:
        await peer.send({"type": "session.created", "session": {}})
        await peer.expect({"type": "session.update", "session": expected_session})
        update_seen.set()
        await within(confirm.wait())
        await peer.send({"type": "session.updated", "session": expected_session})

    turn_detection = dict(VAD)
    async with Double(script) as double:
        adapter = OpenAIRealtimeAdapter(api_key=SECRET, base_url=double.base_url)
        settings = {"instructions": "Be terse.", "voice": "cedar", "tools": (LOOKUP,)}
        opening = asyncio.create_task(
            adapter.open(config(**settings, turn_detection=turn_detection, auto_respond=False))
        )
        await within(update_seen.wait())
        assert not opening.done()  # session.update is out, session.updated is not: still opening
        confirm.set()
        await within(opening)
        assert turn_detection == VAD  # the caller's dict is not mutated
        await adapter.close()


async def test_open_defaults_keep_turn_detection_and_send_no_tools() -> None:
    async def script(peer: Peer) -> None:
        session = await peer.handshake()
        assert session["instructions"] == DEFAULT_INSTRUCTIONS
        assert session["audio"]["output"]["voice"] == "marin"
        assert session["audio"]["input"]["turn_detection"] == VAD
        assert session["tools"] == [] and session["tool_choice"] == "none"

    async with Double(script) as double:
        adapter = await opened(double, turn_detection=dict(VAD))
        await adapter.close()

    async def manual(peer: Peer) -> None:
        session = await peer.handshake()
        assert session["audio"]["input"]["turn_detection"] is None

    async with Double(manual) as double:
        adapter = await opened(double, turn_detection=None, auto_respond=False)
        await adapter.close()


async def test_an_error_reply_to_session_update_is_provider_unavailable() -> None:
    async def script(peer: Peer) -> None:
        event_id = await peer.expect_session_update()
        await peer.send(
            {
                "type": "error",
                "error": {
                    "type": "invalid_request_error",
                    "code": "invalid_value",
                    "message": f"Invalid voice (key {SECRET})",
                    "event_id": event_id,
                },
            }
        )

    async with Double(script) as double:
        adapter = OpenAIRealtimeAdapter(api_key=SECRET, base_url=double.base_url)
        with pytest.raises(ProviderUnavailable) as caught:
            await adapter.open(config())
    assert "Invalid voice" in str(caught.value)
    assert SECRET not in str(caught.value)


async def test_open_times_out_without_session_updated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(openai_connection, "OPEN_TIMEOUT_S", 0.2)

    async def script(peer: Peer) -> None:
        await within(peer.ws.recv())  # the session.update, unanswered
        await peer.ws.wait_closed()

    async with Double(script) as double:
        adapter = OpenAIRealtimeAdapter(api_key=SECRET, base_url=double.base_url)
        with pytest.raises(ProviderUnavailable, match="timed out"):
            await adapter.open(config())


async def test_open_without_a_key_is_provider_unavailable() -> None:
    adapter = OpenAIRealtimeAdapter(api_key="", base_url=f"http://127.0.0.1:{closed_port()}/v1")
    with pytest.raises(ProviderUnavailable) as caught:
        await adapter.open(config())
    assert str(caught.value) == MISSING_KEY == "OPENAI_API_KEY is required for provider=openai"


async def test_a_connect_failure_never_shows_the_key() -> None:
    adapter = OpenAIRealtimeAdapter(api_key=SECRET, base_url=f"ws://127.0.0.1:{closed_port()}/v1")
    with pytest.raises(ProviderUnavailable) as caught:
        await adapter.open(config())
    message = str(caught.value)
    assert message.startswith("OpenAI realtime connection failed: ")
    assert SECRET not in message and "Zq9X" not in message
    assert caught.value.__cause__ is None


async def test_a_rejected_upgrade_is_provider_unavailable_without_the_key() -> None:
    def reject(connection: ServerConnection, request: Any) -> Any:
        return connection.respond(HTTPStatus.UNAUTHORIZED, f"Incorrect API key {SECRET}\n")

    async with serve(lambda ws: ws.wait_closed(), "127.0.0.1", 0, process_request=reject) as srv:
        port = srv.sockets[0].getsockname()[1]
        adapter = OpenAIRealtimeAdapter(api_key=SECRET, base_url=f"http://127.0.0.1:{port}/v1")
        with pytest.raises(ProviderUnavailable) as caught:
            await adapter.open(config())
    assert "401" in str(caught.value)
    assert SECRET not in str(caught.value)


# Commands -------------------------------------------------------------------------------------


async def test_commands_send_the_exact_wire_events() -> None:
    pcm = bytes(range(10)) * 4

    async def script(peer: Peer) -> None:
        await peer.handshake()
        await peer.expect({"type": "input_audio_buffer.append", "audio": b64(pcm)})
        await peer.expect({"type": "input_audio_buffer.commit"})
        await peer.expect({"type": "input_audio_buffer.clear"})
        await peer.expect(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "hello"}],
                },
            }
        )
        await peer.expect(
            {
                "type": "session.update",
                "session": {
                    "type": "realtime",
                    "instructions": "Be brief.",
                    "audio": {"output": {"voice": "cedar"}},
                },
            }
        )
        await peer.expect(
            {"type": "session.update", "session": {"type": "realtime", "instructions": ""}}
        )
        await peer.expect(
            {
                "type": "response.create",
                "response": {
                    "instructions": "Say exactly the following text, word for word, and nothing "
                    "else:\nHello there.",
                    "tool_choice": "none",
                },
            }
        )
        await peer.send({"type": "response.created", "response": {"id": "resp_1"}})
        await peer.expect({"type": "response.cancel"})
        await peer.send(
            {"type": "response.done", "response": {"id": "resp_1", "status": "cancelled"}}
        )
        await peer.expect(
            {
                "type": "conversation.item.create",
                "item": {"type": "function_call_output", "call_id": "call_1", "output": '{"ok":1}'},
            }
        )
        await peer.expect({"type": "response.create"})
        await peer.send({"type": "response.created", "response": {"id": "resp_2"}})
        await peer.send(
            {"type": "response.done", "response": {"id": "resp_2", "status": "completed"}}
        )
        await peer.expect({"type": "response.create"})

    async with Double(script) as double:
        adapter = await opened(double, auto_respond=False)
        events = adapter.events()
        await adapter.send_audio(pcm)
        await adapter.send_audio(b"")  # nothing to send
        await adapter.commit_audio()
        await adapter.clear_audio()
        await adapter.send_text("hello")  # auto_respond=False: no response.create
        await adapter.update(instructions="Be brief.", voice="cedar")
        await adapter.update()  # nothing to change: nothing sent
        await adapter.update(instructions="")
        await adapter.cancel()  # no response active: nothing sent
        await adapter.say("Hello there.")
        assert await take(events, 1) == [ResponseStarted("resp_1")]
        await adapter.cancel()
        assert await take(events, 1) == [ResponseDone("cancelled", "resp_1")]
        await adapter.send_tool_result("call_1", '{"ok":1}')
        assert await take(events, 2) == [
            ResponseStarted("resp_2"),
            ResponseDone("completed", "resp_2"),
        ]
        await adapter.create_response()
        await double.script_finished()
        await adapter.close()
        assert await drain(events) == [ProviderClosed(reason="")]
    assert SAY_PREFIX == "Say exactly the following text, word for word, and nothing else:\n"


async def test_send_text_asks_for_a_response_when_auto_respond() -> None:
    item = {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "hi"}],
    }

    async def script(peer: Peer) -> None:
        await peer.handshake()
        await peer.expect({"type": "conversation.item.create", "item": item})
        await peer.expect({"type": "response.create"})

    async with Double(script) as double:
        adapter = await opened(double)
        await adapter.send_text("hi")
        await double.script_finished()
        await adapter.close()


# Events ---------------------------------------------------------------------------------------

SERVER_EVENTS: list[dict[str, Any] | str] = [
    {"type": "input_audio_buffer.speech_started", "item_id": "item_1", "audio_start_ms": 1000},
    {"type": "input_audio_buffer.speech_stopped", "item_id": "item_1", "audio_end_ms": 3500},
    {"type": "input_audio_buffer.committed", "item_id": "item_1", "previous_item_id": None},
    {"type": "conversation.item.added", "item": {"id": "item_1", "type": "message"}},
    {
        "type": "conversation.item.input_audio_transcription.completed",
        "item_id": "item_1",
        "content_index": 0,
        "transcript": "hello there",
    },
    {
        "type": "conversation.item.input_audio_transcription.completed",
        "item_id": "item_typed",
        "content_index": 0,
        "transcript": "no speech events",
    },
    {"type": "response.created", "response": {"id": "resp_1", "status": "in_progress"}},
    {"type": "response.output_audio.delta", "response_id": "resp_1", "delta": b64(b"\x01\x02")},
    {"type": "response.audio.delta", "response_id": "resp_1", "delta": b64(b"\x03\x04")},
    {"type": "response.output_audio_transcript.delta", "response_id": "resp_1", "delta": "Hi"},
    {"type": "response.audio_transcript.delta", "response_id": "resp_1", "delta": " you"},
    {
        "type": "response.output_audio_transcript.done",
        "response_id": "resp_1",
        "transcript": "Hi you",
    },
    {"type": "response.audio_transcript.done", "response_id": "resp_1", "transcript": "Hi, beta"},
    {
        "type": "response.function_call_arguments.done",
        "call_id": "call_1",
        "name": "lookup",
        "arguments": '{"q": "x"}',
    },
    {
        "type": "response.output_item.done",
        "response_id": "resp_1",
        "item": {
            "type": "function_call",
            "status": "completed",
            "call_id": "call_1",
            "name": "lookup",
            "arguments": '{"q": "x"}',
        },
    },
    {
        "type": "response.output_item.done",
        "item": {
            "type": "function_call",
            "call_id": "call_2",
            "name": "lookup",
            "arguments": "{no",
        },
    },
    {"type": "response.output_item.done", "item": {"type": "message", "id": "item_2"}},
    {"type": "rate_limits.updated", "rate_limits": []},
    {"type": "some.future_event", "payload": {"x": 1}},
    "this is not json",
    {"type": "response.output_audio.delta", "response_id": "resp_1", "delta": "@@not base64@@"},
    {
        "type": "error",
        "error": {"type": "invalid_request_error", "code": None, "message": "Bad item"},
    },
    {
        "type": "error",
        "error": {"type": "server_error", "code": "server_error", "message": f"oops {SECRET}"},
    },
    {
        "type": "error",
        "error": {
            "type": "invalid_request_error",
            "code": "conversation_already_has_active_response",
        },
    },
    {"type": "response.done", "response": {"id": "resp_1", "status": "completed"}},
]

EXPECTED_EVENTS: list[ProviderEvent] = [
    SpeechStarted(),
    SpeechStopped(audio_ms=2500),
    UserTranscript("hello there", "item_1", 2500),
    UserTranscript("no speech events", "item_typed", 0),
    ResponseStarted("resp_1"),
    AudioOut(b"\x01\x02", "resp_1"),
    AudioOut(b"\x03\x04", "resp_1"),
    AssistantTranscript("Hi", False, "resp_1"),
    AssistantTranscript(" you", False, "resp_1"),
    AssistantTranscript("Hi you", True, "resp_1"),
    AssistantTranscript("Hi, beta", True, "resp_1"),
    ToolCall("call_1", "lookup", {"q": "x"}),
    ToolCall(
        "call_2",
        "lookup",
        {},
        "the tool arguments were refused: not valid JSON: Expecting property name enclosed in"
        " double quotes: line 1 column 2 (char 1)",
    ),
    ProviderError("invalid_request_error", "Bad item"),
    ProviderError("server_error", "oops ***"),
    ResponseDone("completed", "resp_1"),
]


async def test_server_events_map_to_neutral_events() -> None:
    async def script(peer: Peer) -> None:
        await peer.handshake()
        for event in SERVER_EVENTS:
            await peer.ws.send(event if isinstance(event, str) else json.dumps(event))

    async with Double(script) as double:
        adapter = await opened(double)
        events = adapter.events()
        assert await take(events, len(EXPECTED_EVENTS)) == EXPECTED_EVENTS
        await adapter.close()
        assert await drain(events) == [ProviderClosed(reason="")]


async def test_events_can_be_cancelled_and_resumed_without_loss() -> None:
    cancelled = asyncio.Event()

    async def script(peer: Peer) -> None:
        await peer.expect_session_update()
        start = {"type": "input_audio_buffer.speech_started", "item_id": "i", "audio_start_ms": 100}
        await peer.send(start)  # before session.updated: held for events()
        await peer.send({"type": "session.updated", "session": {}})
        await within(cancelled.wait())
        stop = {"type": "input_audio_buffer.speech_stopped", "item_id": "i", "audio_end_ms": 500}
        await peer.send(stop)

    async with Double(script) as double:
        adapter = await opened(double)
        first = adapter.events()
        assert await take(first, 1) == [SpeechStarted()]
        waiting = asyncio.ensure_future(anext(first))
        await until_reading(first)
        waiting.cancel()  # while it waits on the socket
        with pytest.raises(asyncio.CancelledError):
            await waiting
        cancelled.set()
        assert await take(adapter.events(), 1) == [SpeechStopped(audio_ms=400)]
        await adapter.close()


# Response sequencing --------------------------------------------------------------------------


async def test_response_create_waits_for_the_active_response_to_finish() -> None:
    say = {"instructions": SAY_PREFIX + "Next.", "tool_choice": "none"}

    async def script(peer: Peer) -> None:
        await peer.handshake()
        await peer.expect({"type": "response.create"})
        await peer.expect({"type": "input_audio_buffer.clear"})  # the say() was held back
        await peer.send({"type": "response.created", "response": {"id": "resp_1"}})
        await peer.send(
            {"type": "response.done", "response": {"id": "resp_1", "status": "completed"}}
        )
        await peer.expect({"type": "response.create", "response": say})
        await peer.send({"type": "response.created", "response": {"id": "resp_2"}})
        await peer.send(
            {"type": "response.done", "response": {"id": "resp_2", "status": "completed"}}
        )

    async with Double(script) as double:
        adapter = await opened(double)
        events = adapter.events()
        await adapter.create_response()
        await adapter.say("Next.")
        await adapter.clear_audio()  # a marker: anything sent before it arrives before it
        assert await take(events, 4) == [
            ResponseStarted("resp_1"),
            ResponseDone("completed", "resp_1"),
            ResponseStarted("resp_2"),
            ResponseDone("completed", "resp_2"),
        ]
        await adapter.close()


async def test_a_response_create_that_lost_the_race_to_vad_is_retried_quietly() -> None:
    speaking = {
        "type": "response.output_audio_transcript.delta",
        "response_id": "resp_vad",
        "delta": "Hm",
    }

    async def script(peer: Peer) -> None:
        await peer.handshake()
        output = {"type": "function_call_output", "call_id": "call_1", "output": "done"}
        await peer.expect({"type": "conversation.item.create", "item": output})
        # The server started a response (VAD); ours arrives while it is active.
        event_id = await peer.expect({"type": "response.create"})
        await peer.send({"type": "response.created", "response": {"id": "resp_vad"}})
        await peer.send(
            {
                "type": "error",
                "error": {
                    "type": "invalid_request_error",
                    "code": "conversation_already_has_active_response",
                    "message": "Conversation already has an active response in progress",
                    "event_id": event_id,
                },
            }
        )
        await peer.send(speaking)
        await peer.expect({"type": "input_audio_buffer.clear"})  # no retry before the marker
        await peer.send({"type": "response.done", "response": {"id": "resp_vad"}})
        await peer.expect({"type": "response.create"})
        await peer.send({"type": "response.created", "response": {"id": "resp_2"}})
        await peer.send(
            {"type": "response.done", "response": {"id": "resp_2", "status": "completed"}}
        )

    async with Double(script) as double:
        adapter = await opened(double)
        events = adapter.events()
        await adapter.send_tool_result("call_1", "done")
        # The error is quiet, and once the event after it is here it has been handled.
        assert await take(events, 2) == [
            ResponseStarted("resp_vad"),
            AssistantTranscript("Hm", False, "resp_vad"),
        ]
        await adapter.clear_audio()  # a marker: a retry sent now would arrive before it
        assert await take(events, 3) == [
            ResponseDone("completed", "resp_vad"),
            ResponseStarted("resp_2"),
            ResponseDone("completed", "resp_2"),
        ]
        await adapter.close()


async def test_a_failed_response_create_does_not_block_the_next_one() -> None:
    async def script(peer: Peer) -> None:
        await peer.handshake()
        event_id = await peer.expect({"type": "response.create"})
        error = {
            "type": "invalid_request_error",
            "code": "bad",
            "message": "no",
            "event_id": event_id,
        }
        await peer.send({"type": "error", "error": error})
        await peer.expect({"type": "response.create"})

    async with Double(script) as double:
        adapter = await opened(double)
        events = adapter.events()
        await adapter.create_response()
        assert await take(events, 1) == [ProviderError("bad", "no")]
        await adapter.create_response()
        await double.script_finished()
        await adapter.close()


async def test_cancel_drops_queued_response_requests() -> None:
    async def script(peer: Peer) -> None:
        await peer.handshake()
        one = {"instructions": SAY_PREFIX + "One.", "tool_choice": "none"}
        await peer.expect({"type": "response.create", "response": one})
        await peer.send({"type": "response.created", "response": {"id": "resp_1"}})
        await peer.expect({"type": "response.cancel"})
        await peer.send(
            {"type": "response.done", "response": {"id": "resp_1", "status": "cancelled"}}
        )
        await peer.expect({"type": "input_audio_buffer.clear"})  # and no "Two." before it

    async with Double(script) as double:
        adapter = await opened(double)
        events = adapter.events()
        await adapter.say("One.")
        await adapter.say("Two.")  # queued, then dropped by cancel()
        assert await take(events, 1) == [ResponseStarted("resp_1")]
        await adapter.cancel()
        assert await take(events, 1) == [ResponseDone("cancelled", "resp_1")]
        await adapter.clear_audio()  # a marker: a released "Two." went out before it
        await double.script_finished()
        await adapter.close()


# Closing --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("drop", "reason"),
    [
        ("close", "provider closed the connection (1001 session expired)"),
        ("abort", "provider closed the connection (no close frame)"),
    ],
)
async def test_a_dropped_socket_ends_events_with_provider_closed(drop: str, reason: str) -> None:
    received = asyncio.Event()

    async def script(peer: Peer) -> None:
        await peer.handshake()
        await peer.send({"type": "input_audio_buffer.speech_started", "item_id": "item_1"})
        await within(received.wait())  # an abort would discard it on the way
        if drop == "close":
            await peer.ws.close(1001, "session expired")
        else:
            peer.ws.transport.abort()

    async with Double(script) as double:
        adapter = await opened(double)
        events = adapter.events()
        assert await take(events, 1) == [SpeechStarted()]
        received.set()
        assert await drain(events) == [ProviderClosed(reason=reason)]
        await adapter.send_audio(b"\x00\x00")  # a no-op now
        await adapter.create_response()
        assert await drain(adapter.events()) == [ProviderClosed(reason=reason)]
        await adapter.close()
        await adapter.close()


async def test_close_is_idempotent_and_ends_a_running_events_iterator() -> None:
    async def script(peer: Peer) -> None:
        await peer.handshake()

    async with Double(script) as double:
        adapter = await opened(double)
        events = adapter.events()
        reader = asyncio.create_task(drain(events))
        await until_reading(events)
        await adapter.close()
        await adapter.close()
        assert await reader == [ProviderClosed(reason="")]
        assert await drain(adapter.events()) == [ProviderClosed(reason="")]
        await adapter.send_audio(b"\x00\x00")
        await adapter.cancel()
        with pytest.raises(ProviderUnavailable):
            await adapter.open(config())
    assert double.connections == 1


# Configuration --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("", (None, None)),
        ("http://127.0.0.1:9000/v1", ("http://127.0.0.1:9000/v1", "ws://127.0.0.1:9000/v1")),
        ("https://example.test/v1", ("https://example.test/v1", "wss://example.test/v1")),
        ("ws://127.0.0.1:9000/v1", ("http://127.0.0.1:9000/v1", "ws://127.0.0.1:9000/v1")),
        ("WSS://example.test/v1/", ("https://example.test/v1/", "wss://example.test/v1/")),
    ],
)
def test_derive_base_urls(base_url: str, expected: tuple[str | None, str | None]) -> None:
    assert derive_base_urls(base_url) == expected


async def test_adapter_from_settings_connects_through_a_ws_base_url(settings: Any) -> None:
    async def script(peer: Peer) -> None:
        await peer.handshake()

    async with Double(script) as double:
        settings.OPENAI_API_KEY = SECRET
        settings.OPENAI_BASE_URL = double.base_url.replace("http://", "ws://")
        adapter = adapter_from_settings()
        await adapter.open(config())
        await adapter.close()

    settings.OPENAI_API_KEY = ""
    with pytest.raises(ProviderUnavailable, match=re.escape(MISSING_KEY)):
        await adapter_from_settings().open(config())


async def test_safety_identifier_hashes_the_given_user_id() -> None:
    async def script(peer: Peer) -> None:
        await peer.handshake()

    async with Double(script, safety_source="user-42") as double:
        adapter = OpenAIRealtimeAdapter(
            api_key=SECRET, base_url=double.base_url, safety_identifier="user-42"
        )
        await adapter.open(config())
        await adapter.close()


def test_session_payload_does_not_share_mutable_state() -> None:
    first = openai_realtime.session_payload(config(turn_detection=dict(VAD)))
    second = copy.deepcopy(first)
    first["audio"]["input"]["format"]["rate"] = 1
    assert openai_realtime.session_payload(config(turn_detection=dict(VAD))) == second
