"""The OpenRouter adapter's own edges, on scripted HTTP exchanges (httpx.MockTransport)."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from sessions_app.providers.base import ProviderUnavailable, ToolSpec
from sessions_app.providers.openrouter_audio import OpenRouterAudio
from sessions_app.providers.turns import AudioClip, Message, TurnProviderError

KEY = "sk-or-v1-0123456789abcdef"
CLIP = AudioClip(b"RIFF....WAVE", "wav")


def adapter(handler, **kwargs) -> OpenRouterAudio:
    return OpenRouterAudio(
        api_key=KEY,
        base_url="https://openrouter.test/api/v1",
        transcription_model="openai/whisper-1",
        client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        **kwargs,
    )


def sse(*events: str, **headers: str) -> httpx.Response:
    """A 200 whose body is ``events``, as OpenRouter streams one."""
    headers = {"Content-Type": "text/event-stream", **headers}
    return httpx.Response(200, content="".join(events).encode(), headers=headers)


def chunk(**delta) -> str:
    return "data: " + json.dumps({"choices": [{"index": 0, "delta": delta}]}) + "\n\n"


async def test_it_sends_the_wire_format_and_reads_speech_past_comments():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        pcm = base64.b64encode(b"\x01\x00" * 48).decode()
        return sse(
            ": OPENROUTER PROCESSING\n\n",
            chunk(audio={"id": "a1", "data": pcm, "transcript": "Hel"}),
            ": OPENROUTER PROCESSING\n\n",
            chunk(audio={"data": pcm, "transcript": "lo"}),
            'data: {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}\n\n',
            "data: [DONE]\n\n",
            **{"X-Generation-Id": "gen-1"},
        )

    provider = adapter(handler)
    history = [Message("user", text="hi"), Message("assistant", text="hello")]
    reply = await provider.respond(
        model="openai/gpt-audio-mini",
        voice="",
        instructions="",
        messages=[*history, Message("user", text="and now?", audio=CLIP)],
        tools=(ToolSpec("lookup", "Looks up."),),
    )
    await provider.aclose()
    assert (reply.text, len(reply.pcm), reply.generation_id) == ("Hello", 192, "gen-1")
    (request,) = seen
    assert str(request.url) == "https://openrouter.test/api/v1/chat/completions"
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert "HTTP-Referer" not in request.headers and "X-Title" not in request.headers
    payload = json.loads(request.content)
    assert payload["stream"] is True and payload["modalities"] == ["text", "audio"]
    assert payload["audio"] == {"voice": "alloy", "format": "pcm16"}
    assert payload["tools"][0]["function"]["name"] == "lookup"
    assert [m["role"] for m in payload["messages"]] == ["system", "user", "assistant", "user"]
    assert payload["messages"][-1]["content"] == [
        {"type": "text", "text": "and now?"},
        {"type": "input_audio", "input_audio": {"data": "UklGRi4uLi5XQVZF", "format": "wav"}},
    ]


async def test_tool_calls_are_assembled_from_their_fragments():
    def handler(request: httpx.Request) -> httpx.Response:
        head = {"index": 0, "id": "call_1", "type": "function"}
        return sse(
            chunk(tool_calls=[{**head, "function": {"name": "lookup", "arguments": ""}}]),
            chunk(tool_calls=[{"index": 0, "function": {"arguments": '{"order": '}}]),
            chunk(tool_calls=[{"index": 0, "function": {"arguments": '"42"}'}}]),
            'data: {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}\n\n',
            "data: [DONE]\n\n",
        )

    provider = adapter(handler)
    reply = await provider.respond(
        model="m", voice="v", instructions="", messages=[Message("user", text="x")], tools=()
    )
    await provider.aclose()
    (call,) = reply.tool_calls
    assert (call.call_id, call.name, call.arguments) == ("call_1", "lookup", {"order": "42"})


async def test_connect_errors_are_retried_a_bounded_number_of_times_and_nothing_else_is():
    attempts = []

    def refused(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        raise httpx.ConnectError("connection refused", request=request)

    provider = adapter(refused)
    with pytest.raises(TurnProviderError) as failed:
        await provider.transcribe(CLIP)
    assert len(attempts) == 3 and failed.value.code == "unreachable"

    answered = []

    def overloaded(request: httpx.Request) -> httpx.Response:
        answered.append(request)
        return httpx.Response(503, json={"error": {"code": 503, "message": "overloaded"}})

    provider = adapter(overloaded)
    with pytest.raises(TurnProviderError) as failed:
        await provider.say(model="m", voice="v", text="hi")
    assert len(answered) == 1 and (failed.value.code, failed.value.message) == (503, "overloaded")


async def test_the_key_never_reaches_an_error_message():
    def echo_key(request: httpx.Request) -> httpx.Response:
        message = f"Invalid key {KEY} (also sk-or-v1-othersecret)"
        return httpx.Response(401, json={"error": {"code": 401, "message": message}})

    provider = adapter(echo_key)
    with pytest.raises(TurnProviderError) as failed:
        await provider.transcribe(CLIP)
    assert KEY not in str(failed.value) and "othersecret" not in str(failed.value)
    assert failed.value.message == "Invalid key *** (also sk-***)"


async def test_a_stream_without_an_end_is_a_cut_stream():
    def unfinished(request: httpx.Request) -> httpx.Response:
        pcm = base64.b64encode(bytes(4800)).decode()
        return sse(chunk(audio={"data": pcm, "transcript": "Hi"}))

    provider = adapter(unfinished)
    with pytest.raises(TurnProviderError) as failed:
        await provider.say(model="m", voice="v", text="Hi")
    assert failed.value.code == "stream cut"
    assert "100 ms of audio had arrived" in failed.value.message


async def test_the_stream_follows_the_sse_rules_not_just_line_breaks():
    """``event:``, ``id:`` and ``retry:`` fields and data-less events are ignored, ``data:``
    lines join, CRLF ends lines, and only CR and LF do: a U+2028 inside a JSON string does
    not split the event (the SSE rules, not ``str.splitlines``)."""

    def handler(request: httpx.Request) -> httpx.Response:
        return sse(
            "event: ping\nid: 1\nretry: 10\n\n",
            'data: {"choices": [{"index": 0,\r\ndata: "delta": {"content": "Hi\u2028"}}]}\r\n\r\n',
            chunk(content="there"),
            'data:{"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}\n\n',
            "data: [DONE]\n\n",
            "data: not read after [DONE]\n\n",
        )

    reply = await adapter(handler).respond(
        model="m", voice="v", instructions="", messages=[Message("user", text="x")], tools=()
    )
    assert reply.text == "Hi\u2028there"


async def test_an_answer_that_is_not_an_event_stream_is_a_bad_stream():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"choices": [{"message": {"content": "hi"}}]})

    with pytest.raises(TurnProviderError) as failed:
        await adapter(handler).say(model="m", voice="v", text="hi")
    assert failed.value.code == "bad stream"
    assert "text/event-stream" in failed.value.message


async def test_it_needs_a_key_and_sends_attribution_when_configured():
    with pytest.raises(ProviderUnavailable, match="OPENROUTER_API_KEY is required"):
        OpenRouterAudio(api_key="", base_url="https://x", transcription_model="m")
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers)
        return httpx.Response(200, json={"text": "hi"})

    provider = adapter(handler, site_url="https://a.example", app_name="A")
    assert await provider.transcribe(CLIP) == "hi"
    (headers,) = seen
    assert (headers["HTTP-Referer"], headers["X-OpenRouter-Title"], headers["X-Title"]) == (
        "https://a.example",
        "A",
        "A",
    )
