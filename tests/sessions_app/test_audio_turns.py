"""Turn-based audio end to end: the turns route, the OpenRouter adapter and the simulator.

The view runs on the test's event loop (Django's AsyncClient), as it runs on daphne's.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import wave

import pytest
from channels.db import database_sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile

from executions_app.models import Execution
from provider_simulator import SAY_PREFIX
from sessions_app.models import SessionInstance
from sessions_app.services.lifecycle import sessions_expire
from tests.sessions_app.audio_clips import audio_body, b64, mp3, wav
from tests.sessions_app.helpers import VOICE_NODE, session_world, start
from tests.sessions_app.link_client import open_link
from tests.sessions_app.rows import session_row
from tests.sessions_app.turn_client import TURNS, client_for, post_turn

pytestmark = pytest.mark.django_db(transaction=True)

SPOKEN = "Order 42 shipped yesterday and arrives on Friday."


@database_sync_to_async
def events(sid: str) -> list[tuple[str, dict]]:
    return list(
        SessionInstance.objects.get(session_id=sid)
        .events.order_by("id")
        .values_list("type", "data")
    )


def chat_requests(simulator) -> list[dict]:
    return [e for e in simulator.log() if e["type"] == "chat.request"]


def wav_frames(encoded: str) -> tuple[int, int]:
    with wave.open(io.BytesIO(base64.b64decode(encoded))) as answer:
        return answer.getframerate(), answer.getnframes()


@pytest.fixture
def world(admin, simulator):
    session_world(admin.client(), **TURNS)


@pytest.fixture
def started(world, alice) -> dict:
    return start(alice.client()).json()


async def test_a_spoken_turn_is_heard_answered_in_speech_and_counted(started, alice, simulator):
    sid = started["session_id"]
    assert started["turns_url"] == f"/api/v1/session-instances/{sid}/turns"
    simulator.script_transcripts(["where is my parcel"])
    response = await post_turn(client_for(alice), sid, audio_body(wav(1500)))
    assert response.status_code == 200, response.content
    body = response.json()
    assert list(body) == ["turn_id", "input", "output", "tool_calls", "latency_ms"]
    assert body["turn_id"].startswith("turn_") and body["latency_ms"] > 0
    assert body["input"] == {"transcript": "where is my parcel"}
    assert body["output"]["text"] == "You said: where is my parcel"
    assert body["output"]["audio"]["format"] == "wav"
    rate, frames = wav_frames(body["output"]["audio"]["data"])
    assert rate == 24_000 and frames > 24_000  # more than a second of real speech
    assert body["tool_calls"] == []

    row = await session_row(sid)
    assert row.status == "active" and row.connected_at is not None
    assert (row.turns, row.audio_in_ms) == (1, 1500)
    assert row.audio_out_ms == frames * 1000 // 24_000
    logged = await events(sid)
    types = [t for t, _ in logged]
    assert types[:3] == ["session.created", "session.connecting", "session.active"]
    user = next(d for t, d in logged if t == "turn.user")
    assert (user["text"], user["audio_ms"], user["modality"]) == (
        "where is my parcel",
        1500,
        "audio",
    )
    said = next(d for t, d in logged if t == "turn.assistant")
    assert said["text"] == body["output"]["text"] and said["turn_id"] == body["turn_id"]

    (chat,) = chat_requests(simulator)
    assert chat["model"] == "openai/gpt-audio-mini" and chat["modalities"] == ["text", "audio"]
    assert chat["audio"] == {"voice": "alloy", "format": "pcm16"}
    assert chat["tools"] == ["resolve_voice_turn"]
    assert chat["messages"][-1]["audio"] == [
        {"transcript": "where is my parcel", "audio_bytes": len(wav(1500))}
    ]
    assert [e["type"] for e in simulator.log()].count("transcription.request") == 1


async def test_a_multipart_mp3_upload_with_text_works_with_the_client_secret(
    started, simulator, settings
):
    settings.OPENROUTER_SITE_URL = "https://support.example"
    settings.OPENROUTER_APP_NAME = "Voice Support"
    sid, secret = started["session_id"], started["client_secret"]["value"]
    clip = mp3(1000)
    upload = SimpleUploadedFile("turn.mp3", clip, content_type="audio/mpeg")
    response = await post_turn(
        client_for(secret=secret), sid, multipart={"audio": upload, "text": "about order 7:"}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    heard = body["input"]["transcript"]
    assert heard.startswith("speech of ") and heard.endswith(" milliseconds")
    assert body["output"]["text"] == f"You said: about order 7: {heard}"
    (chat,) = chat_requests(simulator)
    user = chat["messages"][-1]
    assert user["text"] == "about order 7:" and user["audio"][0]["audio_bytes"] == len(clip)
    assert chat["attribution"] == {
        "HTTP-Referer": "https://support.example",
        "X-OpenRouter-Title": "Voice Support",
        "X-Title": "Voice Support",
    }
    assert (await session_row(sid)).audio_in_ms >= 1000


async def test_the_conversation_persists_across_turns_bounded(started, alice, simulator, settings):
    sid, client = started["session_id"], client_for(alice)
    simulator.script_transcripts(["my name is Ada"])
    assert (await post_turn(client, sid, audio_body(wav(700)))).status_code == 200
    second = await post_turn(client, sid, {"text": "what is my name?"})
    assert second.status_code == 200
    assert second.json()["input"]["transcript"] == "what is my name?"
    first_chat, second_chat = chat_requests(simulator)
    assert [(m["role"], m["text"]) for m in second_chat["messages"]] == [
        ("system", first_chat["messages"][0]["text"]),
        ("user", "my name is Ada"),
        ("assistant", "You said: my name is Ada"),
        ("user", "what is my name?"),
    ]
    assert "audio" not in second_chat["messages"][1]  # history is text; audio is sent once
    types = [e["type"] for e in simulator.log()]
    assert types.count("transcription.request") == 1  # a typed turn needs no transcription

    settings.AGENTFIELD_TURN_HISTORY_MESSAGES = 2
    assert (await post_turn(client, sid, {"text": "third"})).status_code == 200
    row = await session_row(sid)
    assert row.history == [
        {"role": "user", "text": "third"},
        {"role": "assistant", "text": "You said: third"},
    ]
    assert row.turns == 3


def resolve(double, call):
    return 200, {"spoken_response": SPOKEN, "order": "42"}


@pytest.mark.usefixtures("worker")
async def test_a_tool_call_runs_on_a_real_node_and_the_model_hears_its_result_first(
    alice, admin, agent_double, simulator
):
    agent_double.behaviours["resolve_voice_turn"] = resolve
    await database_sync_to_async(session_world)(admin.client(), agent_double.base_url, **TURNS)
    sid = (await database_sync_to_async(start)(alice.client())).json()["session_id"]
    simulator.script_transcripts(["please resolve voice turn for order 42"])
    response = await post_turn(client_for(alice), sid, audio_body(wav(1200)))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["output"]["text"] == SPOKEN
    (call,) = body["tool_calls"]
    assert call["tool"] == "resolve_voice_turn" and call["target"] == "support.resolve_voice_turn"
    assert call["status"] == "succeeded"

    _, answered = chat_requests(simulator)
    function_call = next(e for e in simulator.log() if e["type"] == "simulator.function_call")
    assert function_call["arguments"] == {"text": "please resolve voice turn for order 42"}
    assistant, tool = answered["messages"][-2:]
    assert assistant["role"] == "assistant"
    assert assistant["tool_calls"][0]["id"] == function_call["call_id"]
    assert tool["role"] == "tool" and tool["tool_call_id"] == function_call["call_id"]
    assert json.loads(tool["text"])["spoken_response"] == SPOKEN

    execution = await database_sync_to_async(Execution.objects.get)(
        execution_id=call["execution_id"]
    )
    assert execution.session_id == sid and execution.status == "succeeded"
    assert agent_double.calls[0].headers["X-Session-ID"] == sid
    types = [t for t, _ in await events(sid)]
    assert types.index("turn.user") < types.index("tool.call") < types.index("turn.assistant")
    assert "tool.result" in types
    assert (await session_row(sid)).tool_calls == 1


@pytest.fixture
def node_key(make_caller):
    return make_caller("agent", node_id=VOICE_NODE, name="voice agent")


async def test_a_handler_answers_over_the_link_and_its_say_is_spoken_verbatim(
    admin, alice, node_key, simulator
):
    await database_sync_to_async(session_world)(admin.client(), handler=True, **TURNS)
    link = await open_link(node_key.secret)
    await link.receive_json_from()  # link.ready
    sid = (await database_sync_to_async(start)(alice.client())).json()["session_id"]
    simulator.script_transcripts(["where is order 42"])
    turn = asyncio.ensure_future(post_turn(client_for(alice), sid, audio_body(wav(900))))
    hello = await link.receive_json_from(timeout=10)
    assert (hello["type"], hello["session_id"]) == ("session.started", sid)
    given = await link.receive_json_from(timeout=10)
    assert given["type"] == "session.input"
    assert given["turn"]["text"] == "where is order 42" and given["turn"]["audio_ms"] == 900
    reply = "Your order 42 left our warehouse this morning."
    await link.send_json_to({"type": "session.say", "session_id": sid, "text": reply})
    await link.send_json_to({"type": "session.end", "session_id": sid, "reason": "resolved"})
    response = await asyncio.wait_for(turn, 15)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["input"]["transcript"] == "where is order 42"
    assert body["output"]["text"] == reply and body["output"]["audio"]["format"] == "wav"

    (chat,) = chat_requests(simulator)
    assert chat["messages"][-1]["text"] == SAY_PREFIX + reply and chat["tools"] == []
    spoken = [e["text"] for e in simulator.log() if e["type"] == "simulator.spoke"]
    assert spoken == [reply]
    types = [t for t, _ in await events(sid)]
    assert types.index("turn.user") < types.index("handler.say") < types.index("turn.assistant")
    row = await session_row(sid)
    assert (row.status, row.end_reason) == ("ended", "resolved")
    assert (await link.receive_json_from(timeout=5))["type"] == "session.ended"
    again = await post_turn(client_for(alice), sid, {"text": "hello?"})
    assert again.status_code == 410
    await link.disconnect()


async def test_a_handler_that_says_nothing_in_time_is_a_504_and_frees_the_session(
    admin, alice, node_key, simulator, settings
):
    settings.AGENTFIELD_TURN_HANDLER_TIMEOUT = 0.3
    await database_sync_to_async(session_world)(admin.client(), handler=True, **TURNS)
    link = await open_link(node_key.secret)
    await link.receive_json_from()
    sid = (await database_sync_to_async(start)(alice.client())).json()["session_id"]
    response = await post_turn(client_for(alice), sid, {"text": "anyone there?"})
    assert response.status_code == 504
    assert response.json() == {
        "error": f"session handler for {VOICE_NODE}.voice did not answer within 0.3 s"
    }
    assert (await session_row(sid)).turn_started_at is None
    await link.disconnect()


async def test_size_format_base64_and_emptiness_are_checked_before_the_provider(
    started, alice, simulator, settings
):
    sid, client = started["session_id"], client_for(alice)
    cases = [
        ({}, 400, "audio or text is required"),
        ({"text": "   "}, 400, "audio or text is required"),
        ({"audio": {"data": "%%%not base64", "format": "wav"}}, 400,
         "audio.data is not valid base64"),
        ({"audio": {"data": b64(wav(100)), "format": "ogg"}}, 415,
         "unsupported audio format 'ogg': use wav or mp3"),
        (audio_body(mp3(300), "wav"), 415, "the audio is not a WAV file"),
        (audio_body(b"ID3 but not really an mp3 file", "mp3"), 415, "the audio is not an MP3 file"),
        ({"audio": "UklGRg=="}, 400, 'audio must be {"data": <base64>, "format": "wav"|"mp3"}'),
    ]  # fmt: skip
    for body, status, error in cases:
        response = await post_turn(client, sid, body)
        assert (response.status_code, response.json()) == (status, {"error": error}), body
    settings.AGENTFIELD_MAX_TURN_BYTES = 20_000
    too_big = f"audio is larger than AGENTFIELD_MAX_TURN_BYTES ({20_000} bytes)"
    for body in (audio_body(wav(1000)), audio_body(wav(1000) * 40)):  # base64, declared body
        response = await post_turn(client, sid, body)
        assert (response.status_code, response.json()) == (413, {"error": too_big})
    upload = SimpleUploadedFile("big.wav", wav(1000))
    response = await post_turn(client, sid, multipart={"audio": upload})
    assert response.status_code == 413
    noise = SimpleUploadedFile("noise.bin", b"\x00\x01" * 500)
    response = await post_turn(client, sid, multipart={"audio": noise})
    assert response.json() == {"error": "the audio file is neither WAV nor MP3"}
    assert response.status_code == 415
    assert simulator.log() == []  # the provider was never asked
    assert (await session_row(sid)).status == "created"


@pytest.mark.parametrize(
    "body",
    [
        '{"text": "hi \\ud800"}',
        '{"text": "hi \\u0000"}',
        '{"text": "hi", "extra": NaN}',
        '{"text": "hi", "extra": 1e999}',
        "[" * 50_000 + "]" * 50_000,
    ],
    ids=["lone-surrogate", "nul", "nan", "1e999", "deep"],
)
async def test_unstorable_json_turns_are_a_400_before_the_provider(started, alice, simulator, body):
    sid = started["session_id"]
    response = await post_turn(client_for(alice), sid, body)
    assert (response.status_code, response.json()) == (400, {"error": "invalid JSON body"})
    assert simulator.log() == []
    assert (await session_row(sid)).status == "created"


async def test_a_nul_in_the_multipart_text_field_is_a_400_before_the_provider(
    started, alice, simulator
):
    sid = started["session_id"]
    response = await post_turn(client_for(alice), sid, multipart={"text": "hi \0 there"})
    assert response.status_code == 400
    assert "NUL" in response.json()["error"]
    assert simulator.log() == []
    assert (await session_row(sid)).status == "created"


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ({"kind": "http_error", "status": 401, "message": "User not found."},
         "OpenRouter audio turn failed (401): User not found."),
        ({"kind": "http_error", "status": 503, "message": "No instances available"},
         "OpenRouter audio turn failed (503): No instances available"),
        ({"kind": "stream_error", "status": 502, "message": "Upstream overloaded"},
         "OpenRouter audio turn failed (502): Upstream overloaded (in the middle of the stream)"),
        ({"kind": "cut"},
         "OpenRouter audio turn failed (stream cut): the provider closed the audio stream before "
         "it was complete (RemoteProtocolError; 100 ms of audio had arrived)"),
    ],
)  # fmt: skip
async def test_provider_failures_are_502s_with_the_upstream_message(
    started, alice, simulator, fault, expected
):
    sid, client = started["session_id"], client_for(alice)
    simulator.inject_fault(fault["kind"], "next_request", fault.get("status", 0),
                           fault.get("message", ""))  # fmt: skip
    response = await post_turn(client, sid, audio_body(wav(500)))
    assert response.status_code == 502
    assert response.json() == {"error": expected, "provider": "openrouter"}
    failure = next(d for t, d in await events(sid) if t == "provider.error")
    assert failure["message"] in expected
    assert "sk-or-v1-simulator-test-key" not in response.content.decode()
    retry = await post_turn(client, sid, audio_body(wav(600)))  # the session goes on
    assert retry.status_code == 200


async def test_a_failed_transcription_fails_the_turn_before_any_tool_runs(
    started, alice, simulator
):
    simulator.inject_fault("http_error", "next_transcription", 400, "Unsupported audio")
    simulator.script_transcripts(["please resolve voice turn"])
    response = await post_turn(client_for(alice), started["session_id"], audio_body(wav(500)))
    assert response.status_code == 502
    assert response.json()["error"] == "OpenRouter audio turn failed (400): Unsupported audio"
    types = [t for t, _ in await events(started["session_id"])]
    assert "tool.call" not in types and "turn.user" not in types


async def test_another_caller_gets_404_and_a_finished_session_410(started, alice, bob, admin):
    sid = started["session_id"]
    for caller in (bob,):
        response = await post_turn(client_for(caller), sid, {"text": "hi"})
        assert (response.status_code, response.json()) == (404, {"error": "session not found"})
    end_url = f"/api/v1/session-instances/{sid}/end"
    ended = await client_for(alice).post(end_url, {}, content_type="application/json")
    assert ended.status_code == 200
    for caller in (alice, admin):
        response = await post_turn(client_for(caller), sid, {"text": "hi"})
        assert (response.status_code, response.json()) == (
            410,
            {"error": f"session {sid} is ended"},
        )


async def test_missing_key_wrong_transport_and_a_busy_session_are_refused(
    alice, admin, simulator, settings
):
    await database_sync_to_async(session_world)(admin.client(), transport="websocket")
    ws_sid = (await database_sync_to_async(start)(alice.client())).json()["session_id"]
    response = await post_turn(client_for(alice), ws_sid, {"text": "hi"})
    assert response.status_code == 400
    assert response.json()["error"].endswith("this route serves transport=audio_turns")

    await database_sync_to_async(register_turns_node)(admin.client())
    sid = (await database_sync_to_async(start)(alice.client(), "turns-node.talk")).json()[
        "session_id"
    ]
    simulator.set_pace(4.0)  # about a second for the answer's speech
    first = asyncio.ensure_future(post_turn(client_for(alice), sid, {"text": "tell me a story"}))
    while (await session_row(sid)).turn_started_at is None:
        await asyncio.sleep(0.01)
    busy = await post_turn(client_for(alice), sid, {"text": "and another"})
    assert (busy.status_code, busy.json()) == (
        409,
        {"error": f"session {sid} is already answering a turn"},
    )
    assert (await first).status_code == 200

    settings.OPENROUTER_API_KEY = ""
    response = await post_turn(client_for(alice), sid, {"text": "hi"})
    assert (response.status_code, response.json()) == (
        502,
        {
            "error": "OPENROUTER_API_KEY is required for provider=openrouter transport=audio_turns",
            "provider": "openrouter",
        },
    )


def register_turns_node(admin_client) -> None:
    from access_app.models import AccessPolicy, Target
    from access_app.services.approvals import target_tags_decide
    from tests.factories import node_body, session_def

    session = session_def("talk", **TURNS, tools=[], tags=["talk"])
    body = node_body("turns-node", reasoners=[], sessions=[session])
    assert admin_client.post("/api/v1/nodes/register", body, format="json").status_code == 201
    for target in Target.objects.filter(node__node_id="turns-node"):
        target_tags_decide(target=target, decision="approved", actor="test")
    AccessPolicy.objects.create(
        name="team-a-talks", caller_tags=["team:a"], target_tags=["talk"], action="allow"
    )


async def test_the_sweep_leaves_a_quiet_turn_based_session_alone(started, alice):
    sid = started["session_id"]
    assert (await post_turn(client_for(alice), sid, {"text": "hi"})).status_code == 200

    @database_sync_to_async
    def age_and_sweep():
        from datetime import timedelta

        from django.utils import timezone

        SessionInstance.objects.filter(session_id=sid).update(
            last_seen_at=timezone.now() - timedelta(minutes=5)
        )
        return sessions_expire()

    assert (await age_and_sweep())["failed"] == 0
    assert (await session_row(sid)).status == "active"


async def test_a_turn_after_the_sessions_time_ends_it_instead(started, alice, simulator):
    sid = started["session_id"]
    assert (await post_turn(client_for(alice), sid, {"text": "hi"})).status_code == 200

    @database_sync_to_async
    def out_of_time():
        from datetime import timedelta

        from django.utils import timezone

        SessionInstance.objects.filter(session_id=sid).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )

    await out_of_time()
    response = await post_turn(client_for(alice), sid, {"text": "still there?"})
    assert (response.status_code, response.json()) == (410, {"error": f"session {sid} is ended"})
    row = await session_row(sid)
    assert row.end_reason == "maximum session duration reached"
    assert len(chat_requests(simulator)) == 1
