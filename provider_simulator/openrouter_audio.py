"""OpenRouter audio (chat completions streamed as SSE, and speech to text), simulated.

- ``POST /v1/chat/completions`` for audio requests (``input_audio`` parts, or ``audio`` in
  ``modalities``, which needs ``stream: true``; output ``pcm16`` only). The answer streams
  as ``chat.completion.chunk`` events: ``: OPENROUTER PROCESSING`` keep-alive comments,
  ``delta.audio.{id, data, transcript}`` in 100 ms pcm16 24 kHz chunks, or
  ``delta.tool_calls``; then a chunk with ``finish_reason`` and ``usage``, then ``[DONE]``.
- ``POST /v1/audio/transcriptions`` ``{"model", "input_audio": {"data", "format"}}`` ->
  ``{"text", "usage"}``.

The "model": a clip's transcript comes from the scripted FIFO, else from the offline
recognizer when the simulator runs with ``transcribe="speech"`` (``recognizer``), else
``speech of N milliseconds`` (one clip, one transcript, whichever endpoint hears it first). The last
message decides the answer: a tool result is spoken (its ``spoken_response``, else a
summary); a user text starting with ``SAY_PREFIX`` is spoken verbatim; a user turn that
names an offered tool calls it; anything else is answered ``You said: <words>``.

Faults (``/control/faults``): ``http_error`` (``status``, ``message``) on ``next_request``
or ``next_transcription``; ``stream_error`` and ``cut`` on ``next_request``, after the
first audio chunk. Every request is logged (audio replaced by its size; ``t0`` is when it
arrived, and ``chat.done`` marks the end of a streamed answer, for benchmarks).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import time
from typing import Any

from aiohttp import web

from provider_simulator import audio
from provider_simulator.scripting import (
    NO_USER_TURN_REPLY,
    SAY_PREFIX,
    mentions,
    reply_for_tool_output,
    tool_arguments,
    transcript_deltas,
)
from provider_simulator.state import Fault, SimulatorState

KEEPALIVE = b": OPENROUTER PROCESSING\n\n"
KEEPALIVE_EVERY = 5  # audio chunks
STREAM_FORMATS = ("pcm16",)
INPUT_FORMATS = ("wav", "mp3")
HTTP_CONNECTION = 0  # the log's ``connection`` for HTTP requests
ATTRIBUTION = ("HTTP-Referer", "X-OpenRouter-Title", "X-Title")  # logged; never the key
ROLES = ("system", "user", "assistant", "tool")


class BadRequest(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def error_body(status: int, message: str) -> web.Response:
    """OpenRouter's error shape."""
    return web.json_response({"error": {"code": status, "message": message}}, status=status)


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts = content if isinstance(content, list) else []
    return " ".join(
        p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str)
    )


def _clips_of(content: Any) -> list[dict[str, Any]]:
    parts = content if isinstance(content, list) else []
    return [
        p["input_audio"]
        for p in parts
        if isinstance(p, dict) and p.get("type") == "input_audio" and "input_audio" in p
    ]


class OpenRouterAudioSimulator:
    """The two HTTP routes, on the simulator's shared state (scripts, faults, pace, log)."""

    def __init__(self, state: SimulatorState) -> None:
        self.state = state

    def mount(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self.chat_completions)
        app.router.add_post("/v1/audio/transcriptions", self.transcriptions)

    # Speech to text -----------------------------------------------------------------------

    async def transcriptions(self, request: web.Request) -> web.Response:
        received = time.monotonic()
        try:
            body = await self._body(request)
            clip = body.get("input_audio")
            if not isinstance(body.get("model"), str) or not isinstance(clip, dict):
                raise BadRequest("'model' and 'input_audio' {data, format} are required")
            text, size = await self._hear(clip)
        except BadRequest as exc:
            return error_body(exc.status, str(exc))
        entry = {"type": "transcription.request", "model": body["model"], "audio_bytes": size}
        self.state.record(HTTP_CONNECTION, {**entry, "format": clip.get("format"), "t0": received})
        fault = self.state.pop_fault("next_transcription")
        if fault is not None:
            return self._fault_response(fault)
        return web.json_response({"text": text, "usage": {"cost": 0, "seconds": 0}})

    async def _hear(self, clip: dict[str, Any]) -> tuple[str, int]:
        """(transcript, size in bytes) of an ``input_audio`` object."""
        fmt = clip.get("format")
        if fmt not in INPUT_FORMATS:
            raise BadRequest(f"input_audio.format must be one of {', '.join(INPUT_FORMATS)}")
        try:
            data = base64.b64decode(str(clip.get("data") or ""), validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest("input_audio.data is not valid base64") from None
        try:
            pcm = await asyncio.to_thread(audio.decode_to_pcm24k, data, fmt)
        except Exception:
            raise BadRequest(f"input_audio could not be decoded as {fmt}") from None
        key = hashlib.sha256(data).hexdigest()
        return await self.state.hear_clip(key, pcm), len(data)

    # Chat completions ---------------------------------------------------------------------

    async def chat_completions(self, request: web.Request) -> web.StreamResponse:
        received = time.monotonic()
        try:
            body = await self._body(request)
            messages = await self._messages(body)
            self._check_audio_request(body, messages)
        except BadRequest as exc:
            return error_body(exc.status, str(exc))
        tools = [t for t in body.get("tools") or [] if isinstance(t, dict)]
        self.state.record(
            HTTP_CONNECTION,
            {
                "type": "chat.request",
                "t0": received,
                "model": body.get("model"),
                "modalities": body.get("modalities"),
                "audio": body.get("audio"),
                "tools": [(t.get("function") or {}).get("name") for t in tools],
                "messages": messages,
                "attribution": {
                    name: request.headers[name] for name in ATTRIBUTION if name in request.headers
                },
            },
        )
        fault = self.state.pop_fault("next_request")
        if fault is not None and fault.kind == "http_error":
            return self._fault_response(fault)
        answer = _Answer(self.state, request, str(body.get("model")), fault)
        await answer.open()
        plan = self._plan(messages, tools, body.get("tool_choice", "auto"))
        if plan[0] == "call":
            await answer.call(*plan[1:])
        else:
            await answer.speak(plan[1])
        return answer.response

    async def _messages(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        """The request's messages for the log and the plan: audio replaced by what was heard."""
        raw = body.get("messages")
        if not isinstance(body.get("model"), str) or not isinstance(raw, list) or not raw:
            raise BadRequest("'model' and a non-empty 'messages' list are required")
        out = []
        for message in raw:
            if not isinstance(message, dict) or message.get("role") not in ROLES:
                raise BadRequest("every message needs a role: system, user, assistant or tool")
            entry = {k: v for k, v in message.items() if k != "content"}
            entry["text"] = _text_of(message.get("content"))
            heard = [await self._hear(clip) for clip in _clips_of(message.get("content"))]
            if heard:
                entry["audio"] = [{"transcript": t, "audio_bytes": n} for t, n in heard]
            out.append(entry)
        return out

    def _check_audio_request(self, body: dict[str, Any], messages: list[dict[str, Any]]) -> None:
        speaks = "audio" in (body.get("modalities") or [])
        if not speaks and not any("audio" in m for m in messages):
            raise BadRequest("the provider simulator serves audio requests only")
        if speaks and body.get("stream") is not True:
            raise BadRequest("audio output requires stream: true")
        if speaks and (body.get("audio") or {}).get("format") not in STREAM_FORMATS:
            raise BadRequest("streamed audio output must use audio.format pcm16")

    def _plan(self, messages: list[dict[str, Any]], tools: list[dict], choice: Any) -> tuple:
        """("say", text) or ("call", tool, words)."""
        last = messages[-1]
        if last["role"] == "tool":
            return "say", reply_for_tool_output(last["text"])
        if last["role"] != "user":
            return "say", NO_USER_TURN_REPLY
        if last["text"].startswith(SAY_PREFIX):
            return "say", last["text"][len(SAY_PREFIX) :]
        words = " ".join(
            w for w in [last["text"], *(a["transcript"] for a in last.get("audio", []))] if w
        )
        if choice != "none":
            for tool in tools:
                name = (tool.get("function") or {}).get("name") or ""
                if mentions(words, name):
                    return "call", tool["function"], words
        return "say", f"You said: {words}"

    # Plumbing -----------------------------------------------------------------------------

    async def _body(self, request: web.Request) -> dict[str, Any]:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise BadRequest("No auth credentials found", status=401)
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            raise BadRequest("the body must be JSON") from None
        if not isinstance(body, dict):
            raise BadRequest("the body must be a JSON object")
        return body

    def _fault_response(self, fault: Fault) -> web.Response:
        self.state.record(HTTP_CONNECTION, {"type": "simulator.fault", "kind": fault.kind})
        status = fault.status or 500
        return error_body(status, fault.message or f"Simulated upstream error {status}")


class _Answer:
    """One streamed chat completion."""

    def __init__(
        self, state: SimulatorState, request: web.Request, model: str, fault: Fault | None
    ) -> None:
        self.state, self.request, self.model, self.fault = state, request, model, fault
        self.id = state.new_id("gen")
        self.response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Generation-Id": self.id,
            }
        )

    async def open(self) -> None:
        await self.response.prepare(self.request)
        await self.response.write(KEEPALIVE)

    async def _event(self, choice: dict[str, Any], **extra: Any) -> None:
        chunk = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": self.model,
            "provider": "Simulator",
            "choices": [{"index": 0, "finish_reason": None, **choice}],
            **extra,
        }
        await self.response.write(f"data: {json.dumps(chunk)}\n\n".encode())

    async def _finish(self, reason: str) -> None:
        usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
        await self._event({"delta": {}, "finish_reason": reason}, usage=usage)
        await self.response.write(b"data: [DONE]\n\n")
        await self.response.write_eof()
        self.state.record(HTTP_CONNECTION, {"type": "chat.done", "id": self.id})

    async def _faulted(self) -> bool:
        """Apply a mid-stream fault (after the first chunk); True if the answer stops here."""
        if self.fault is None:
            return False
        self.state.record(HTTP_CONNECTION, {"type": "simulator.fault", "kind": self.fault.kind})
        if self.fault.kind == "cut":
            if self.request.transport is not None:
                self.request.transport.abort()
            return True
        code = self.fault.status or 502
        error = {"code": code, "message": self.fault.message or "Provider returned error"}
        await self._event({"delta": {"content": ""}, "finish_reason": "error"}, error=error)
        await self.response.write_eof()
        return True

    async def speak(self, text: str) -> None:
        self.state.record(HTTP_CONNECTION, {"type": "simulator.spoke", "text": text})
        pcm = await asyncio.to_thread(audio.synthesize, text)
        pieces = audio.chunks(pcm)
        words = transcript_deltas(text, len(pieces))
        audio_id = self.state.new_id("audio")
        for index, piece in enumerate(pieces):
            delta = {
                "id": audio_id,
                "data": base64.b64encode(piece).decode("ascii"),
                "transcript": "".join(words.get(index, [])),
                "expires_at": int(time.time()) + 3600,
            }
            await self._event({"delta": {"role": "assistant", "content": None, "audio": delta}})
            if index == 0 and await self._faulted():
                return
            if index % KEEPALIVE_EVERY == KEEPALIVE_EVERY - 1:
                await self.response.write(KEEPALIVE)
            await self._pause()
        await self._finish("stop")

    async def call(self, tool: dict[str, Any], words: str) -> None:
        arguments = self.state.next_tool_arguments(tool_arguments(tool, words))
        encoded, call_id = json.dumps(arguments), self.state.new_id("call")
        function = {"name": tool["name"], "arguments": ""}
        head = {"index": 0, "id": call_id, "type": "function", "function": function}
        await self._event({"delta": {"role": "assistant", "content": None, "tool_calls": [head]}})
        if await self._faulted():
            return
        half = len(encoded) // 2
        for fragment in (encoded[:half], encoded[half:]):
            await self._event(
                {"delta": {"tool_calls": [{"index": 0, "function": {"arguments": fragment}}]}}
            )
        entry = {"type": "simulator.function_call", "call_id": call_id, "name": tool["name"]}
        self.state.record(HTTP_CONNECTION, {**entry, "arguments": arguments})
        await self._finish("tool_calls")

    async def _pause(self) -> None:
        pace = self.state.pace
        await asyncio.sleep(audio.CHUNK_MS / 1000 / pace if pace > 0 else 0)
