"""OpenRouter audio over HTTP: chat completions streamed as SSE, and speech to text, on httpx.

The only module that knows OpenRouter's wire format (``../shared/reference/providers.md``
§3): ``input_audio`` content parts, ``modalities: ["text", "audio"]`` with ``stream: true``,
``choices[0].delta.audio.{data, transcript}`` chunks, ``delta.tool_calls``, ``:`` comment
lines (keep-alives), errors as a status with ``{"error": {"code", "message"}}`` or as a
``data:`` event carrying ``error`` mid-stream, ``data: [DONE]``, and the attribution
headers. Output audio is asked for as ``pcm16`` (24 kHz, as OpenAI's audio models send it).
The event stream itself is read by ``httpx-sse``.

Connection errors are retried (nothing was sent yet); nothing else is. The key goes out in
one header and is scrubbed from every message this module raises.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

import httpx
from django.conf import settings
from httpx_sse import EventSource, SSEError

from sessions_app.providers.base import (
    BYTES_PER_MS,
    ProviderUnavailable,
    ToolCall,
    ToolSpec,
    tool_arguments_parse,
)
from sessions_app.providers.turns import AudioClip, Message, Reply, TurnProviderError

DEFAULT_INSTRUCTIONS = (
    "You are the voice of an AgentField session: answer briefly, in speech. Use the registered "
    "tools to route agent work through the AgentField control plane."
)
SAY_INSTRUCTIONS = "You are a text-to-speech voice: speak the user's text aloud and nothing else."
SAY_PREFIX = "Say exactly the following text, word for word, and nothing else:\n"
DEFAULT_VOICE = "alloy"
OUTPUT_FORMAT = "pcm16"
MISSING_KEY = "OPENROUTER_API_KEY is required for provider=openrouter transport=audio_turns"
# Read: the longest silence between two stream lines (keep-alives arrive in between).
TIMEOUT = httpx.Timeout(connect=5.0, read=60.0, write=30.0, pool=5.0)
CONNECT_ATTEMPTS = 3
RETRY_BACKOFF_S = 0.2
_SECRET_RE = re.compile(r"sk-[A-Za-z0-9_\-]{6,}")


def tool_payload(tool: ToolSpec) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": tool.name,
            "description": tool.description,
            "parameters": tool.parameters,
        },
    }


def wire_message(message: Message) -> dict[str, Any]:
    """A neutral message as an OpenAI-style chat message."""
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.call_id, "content": message.text}
    if message.role == "assistant":
        wire: dict[str, Any] = {"role": "assistant", "content": message.text or None}
        if message.tool_calls:
            wire["tool_calls"] = [
                {
                    "id": call.call_id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
                }
                for call in message.tool_calls
            ]
        return wire
    if message.audio is None:
        return {"role": "user", "content": message.text}
    parts: list[dict[str, Any]] = [{"type": "text", "text": message.text}] if message.text else []
    parts.append({"type": "input_audio", "input_audio": audio_part(message.audio)})
    return {"role": "user", "content": parts}


def audio_part(clip: AudioClip) -> dict[str, str]:
    return {"data": base64.b64encode(clip.data).decode("ascii"), "format": clip.format}


@dataclass
class _Stream:
    """What the SSE chunks of one answer add up to."""

    pcm: bytearray = field(default_factory=bytearray)
    transcript: list[str] = field(default_factory=list)
    content: list[str] = field(default_factory=list)
    calls: dict[int, dict[str, str]] = field(default_factory=dict)
    finish_reason: str = ""
    done: bool = False

    def add(self, chunk: dict[str, Any]) -> None:
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            audio = delta.get("audio") or {}
            if audio.get("data"):
                self.pcm += base64.b64decode(audio["data"])
            if audio.get("transcript"):
                self.transcript.append(audio["transcript"])
            if isinstance(delta.get("content"), str):
                self.content.append(delta["content"])
            for call in delta.get("tool_calls") or []:
                slot = self.calls.setdefault(int(call.get("index", 0)), {"arguments": ""})
                function = call.get("function") or {}
                if call.get("id"):
                    slot["id"] = call["id"]
                if function.get("name"):
                    slot["name"] = function["name"]
                slot["arguments"] += function.get("arguments") or ""
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]

    def reply(self, generation_id: str) -> Reply:
        calls = [
            ToolCall(c.get("id", ""), c["name"], *tool_arguments_parse(c["arguments"]))
            for _, c in sorted(self.calls.items())
            if c.get("name")
        ]
        text = "".join(self.transcript) or "".join(self.content)
        return Reply(text=text, pcm=bytes(self.pcm), tool_calls=calls, generation_id=generation_id)


_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
    weakref.WeakKeyDictionary()
)


def shared_client() -> httpx.AsyncClient:
    """One pooled client per event loop (daphne has one): kept-alive connections, and the
    TLS set-up (some 20 ms of loading CA certificates) done once, not on every turn."""
    loop = asyncio.get_running_loop()
    client = _pools.get(loop)
    if client is None or client.is_closed:
        client = _pools[loop] = httpx.AsyncClient(timeout=TIMEOUT)
    return client


class OpenRouterAudio:
    """OpenRouter for one turn (``TurnProvider``), on the loop's shared client by default."""

    name = "OpenRouter"

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        transcription_model: str,
        site_url: str = "",
        app_name: str = "",
        client: httpx.AsyncClient | None = None,
    ) -> None:
        if not api_key:
            raise ProviderUnavailable(MISSING_KEY)
        self._api_key = api_key
        self._base_url = base_url.rstrip("/")
        self._transcription_model = transcription_model
        self._headers = {"Authorization": f"Bearer {api_key}"}
        if site_url:
            self._headers["HTTP-Referer"] = site_url
        if app_name:
            self._headers["X-OpenRouter-Title"] = app_name
            self._headers["X-Title"] = app_name  # the legacy name, still read
        self._client = client or shared_client()

    async def aclose(self) -> None:
        """Nothing to release: the pooled client outlives the turn."""

    # Commands -----------------------------------------------------------------------------

    async def transcribe(self, clip: AudioClip) -> str:
        payload = {"model": self._transcription_model, "input_audio": audio_part(clip)}
        response = await self._send("audio/transcriptions", payload, stream=False)
        if response.status_code >= 400:
            raise TurnProviderError(response.status_code, self._error_text(response.content))
        try:
            body = response.json()
        except ValueError:
            raise TurnProviderError(response.status_code, "transcription was not JSON") from None
        return str(body.get("text") or "").strip() if isinstance(body, dict) else ""

    async def respond(
        self,
        *,
        model: str,
        voice: str,
        instructions: str,
        messages: list[Message],
        tools: tuple[ToolSpec, ...],
    ) -> Reply:
        system = {"role": "system", "content": instructions or DEFAULT_INSTRUCTIONS}
        payload = self._chat_payload(model, voice, [system, *map(wire_message, messages)])
        if tools:
            payload["tools"] = [tool_payload(tool) for tool in tools]
            payload["tool_choice"] = "auto"
        return await self._chat(payload)

    async def say(self, *, model: str, voice: str, text: str) -> Reply:
        wire = [
            {"role": "system", "content": SAY_INSTRUCTIONS},
            {"role": "user", "content": SAY_PREFIX + text},
        ]
        reply = await self._chat(self._chat_payload(model, voice, wire))
        reply.text = reply.text or text
        return reply

    # The wire -----------------------------------------------------------------------------

    def _chat_payload(self, model: str, voice: str, messages: list[dict]) -> dict[str, Any]:
        return {
            "model": model,
            "messages": messages,
            "modalities": ["text", "audio"],
            "audio": {"voice": voice or DEFAULT_VOICE, "format": OUTPUT_FORMAT},
            "stream": True,  # audio output is only served streamed
        }

    async def _chat(self, payload: dict[str, Any]) -> Reply:
        began = time.perf_counter()
        response = await self._send("chat/completions", payload, stream=True)
        try:
            if response.status_code >= 400:
                raise TurnProviderError(
                    response.status_code, self._error_text(await self._body(response))
                )
            stream = _Stream()
            await self._read_events(response, stream)
        finally:
            await response.aclose()
        reply = stream.reply(response.headers.get("X-Generation-Id", ""))
        reply.provider_ms = (time.perf_counter() - began) * 1000
        return reply

    async def _send(self, path: str, payload: dict[str, Any], *, stream: bool) -> httpx.Response:
        request = self._client.build_request(
            "POST", f"{self._base_url}/{path}", json=payload, headers=self._headers
        )
        for attempt in range(CONNECT_ATTEMPTS):
            try:
                return await self._client.send(request, stream=stream)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if attempt + 1 == CONNECT_ATTEMPTS:
                    raise TurnProviderError(
                        "unreachable",
                        f"could not connect to {request.url.host} after {CONNECT_ATTEMPTS} "
                        f"attempts ({type(exc).__name__})",
                    ) from None
                await asyncio.sleep(RETRY_BACKOFF_S * 2**attempt)
            except httpx.TimeoutException:
                raise TurnProviderError("timeout", "no answer in time") from None
            except httpx.HTTPError as exc:
                raise TurnProviderError(
                    "unreachable", self._scrub(f"{type(exc).__name__}: {exc}")
                ) from None
        raise AssertionError("unreachable")  # the loop returns or raises

    async def _body(self, response: httpx.Response) -> bytes:
        try:
            return await response.aread()
        except httpx.HTTPError:
            return b""

    async def _read_events(self, response: httpx.Response, stream: _Stream) -> None:
        """The answer's server-sent events (comments, the keep-alives, are skipped by
        ``httpx-sse``; an event without data carries nothing and is skipped here).

        Read to the end of the body even after ``[DONE]``, so the connection goes back to
        the pool instead of being closed (a new TLS connection for every request)."""
        try:
            async for event in EventSource(response).aiter_sse():
                if event.data and not stream.done:
                    self._on_event(event.data, stream)
        except SSEError as exc:
            raise TurnProviderError("bad stream", str(exc)) from None
        except httpx.TimeoutException:
            if stream.done:
                return
            raise TurnProviderError("timeout", "the audio stream stalled") from None
        except httpx.HTTPError as exc:
            if stream.done:
                return
            raise self._cut(stream, type(exc).__name__) from None
        if not stream.done and not stream.finish_reason:
            raise self._cut(stream, "the stream ended without [DONE]")

    def _on_event(self, data: str, stream: _Stream) -> None:
        """Apply one event; ``[DONE]`` completes the answer."""
        if data.strip() == "[DONE]":
            stream.done = True
            return
        try:
            chunk = json.loads(data)
        except ValueError:
            raise TurnProviderError("bad stream", "an event was not JSON") from None
        if not isinstance(chunk, dict):
            return
        if isinstance(chunk.get("error"), dict):
            error = chunk["error"]
            code = error.get("code") or "stream error"
            message = self._scrub(str(error.get("message") or "error"))[:300]
            raise TurnProviderError(code, f"{message} (in the middle of the stream)")
        try:
            stream.add(chunk)
        except (binascii.Error, ValueError, TypeError, KeyError):
            raise TurnProviderError("bad stream", "an audio chunk could not be read") from None

    def _cut(self, stream: _Stream, why: str) -> TurnProviderError:
        ms = len(stream.pcm) // BYTES_PER_MS
        return TurnProviderError(
            "stream cut",
            f"the provider closed the audio stream before it was complete ({why}; "
            f"{ms} ms of audio had arrived)",
        )

    def _error_text(self, body: bytes) -> str:
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
            text = str(parsed["error"].get("message") or parsed["error"])
        else:
            text = body.decode("utf-8", "replace").strip() or "no details"
        return self._scrub(text)[:300]

    def _scrub(self, text: str) -> str:
        return _SECRET_RE.sub("sk-***", text.replace(self._api_key, "***"))


def provider_from_settings() -> OpenRouterAudio:
    return OpenRouterAudio(
        api_key=settings.OPENROUTER_API_KEY,
        base_url=settings.OPENROUTER_BASE_URL,
        transcription_model=settings.OPENROUTER_TRANSCRIPTION_MODEL,
        site_url=settings.OPENROUTER_SITE_URL,
        app_name=settings.OPENROUTER_APP_NAME,
    )
