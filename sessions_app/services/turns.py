"""Turn-based audio (API.md section 6): one user turn in, one spoken answer out, in the request.

A turn claims its session (one at a time; the first turn opens it), hears the user (speech
to text, beside the model's first request), then either

- lets the model answer: its tool calls run through the session tool path (allowlist,
  access, executions carrying the session id) and their results go back to the model
  before it speaks; or
- hands the words to the node's handler over the agent link and has the provider speak
  exactly what the handler says (``turn_handler``).

The exchange joins the bounded history (text only: the user's words, what was said); the
counters and the replay log follow. Nothing here holds a thread while it waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from foundation.errors import ApiError
from sessions_app.models import SessionInstance
from sessions_app.providers import turn_provider_for
from sessions_app.providers.base import BYTES_PER_MS, ProviderUnavailable, ToolCall, ToolSpec
from sessions_app.providers.turns import (
    AudioClip,
    Message,
    Reply,
    TurnProvider,
    TurnProviderError,
)
from sessions_app.runtime.tools import (
    refusal_output,
    tool_call_start,
    tool_call_wait,
    tool_error_output,
    tool_specs,
)
from sessions_app.services.events import session_event_append
from sessions_app.services.turn_handler import handler_answer
from sessions_app.services.turn_records import (
    turn_claim,
    turn_history,
    turn_record,
    turn_release,
    turn_tool_calls_since,
)

# Model answers that may call tools before one must speak; the last one is used as it is.
log = logging.getLogger(__name__)
MAX_TOOL_ROUNDS = 3

_append = database_sync_to_async(session_event_append)
_release = database_sync_to_async(turn_release)
_record = database_sync_to_async(turn_record)
_turn_tool_calls_since = database_sync_to_async(turn_tool_calls_since)


@database_sync_to_async
def _begin(session: SessionInstance) -> tuple[bool, tuple[ToolSpec, ...]]:
    """Claim the turn (True if it opened the session) and read the tools the model gets."""
    opened = turn_claim(session)
    return opened, () if session.handler else tool_specs(session)


@dataclass(frozen=True)
class TurnInput:
    """A validated turn: audio (its length when the headers tell), typed text, or both."""

    audio: AudioClip | None = None
    text: str = ""
    audio_ms: int | None = None


@dataclass
class TurnResult:
    turn_id: str
    transcript: str
    text: str
    pcm: bytes
    tool_calls: list[dict[str, Any]]
    latency_ms: float


async def turn_take(
    *, session: SessionInstance, turn: TurnInput, began: float | None = None
) -> TurnResult:
    """Run one turn. Refusals and provider failures raise ``ApiError``."""
    began = time.perf_counter() if began is None else began
    try:
        provider = turn_provider_for(session.provider)
    except ProviderUnavailable as exc:
        raise ApiError(502, str(exc), provider=session.provider) from None
    try:
        opened, tools = await _begin(session)
        run = _Turn(session, turn, provider)
        try:
            result = await (run.by_handler(opened) if session.handler else run.by_model(tools))
        except TurnProviderError as exc:
            await run.failed(exc)
            raise ApiError(
                502,
                f"{provider.name} audio turn failed ({exc.code}): {exc.message}",
                provider=session.provider,
            ) from None
        except BaseException:
            await _release(session)
            raise
    finally:
        await provider.aclose()
    result.latency_ms = round((time.perf_counter() - began) * 1000, 1)
    return result


@dataclass
class _Turn:
    session: SessionInstance
    turn: TurnInput
    provider: TurnProvider
    turn_id: str = field(default_factory=lambda: f"turn_{secrets.token_hex(6)}")
    provider_ms: float = 0.0
    calls: list[dict[str, Any]] = field(default_factory=list)

    # The two ways to answer ------------------------------------------------------------

    async def by_model(self, tools: tuple[ToolSpec, ...]) -> TurnResult:
        history = [Message(m["role"], text=m["text"]) for m in turn_history(self.session)]
        messages = [*history, Message("user", text=self.turn.text, audio=self.turn.audio)]
        answering = asyncio.ensure_future(self._respond(messages, tools))
        try:
            transcript, heard_ms = await self._hear()
        except BaseException:
            answering.cancel()
            with contextlib.suppress(BaseException):
                await answering
            raise
        await self._log_user(transcript)
        reply = await answering
        self.provider_ms += max(heard_ms, reply.provider_ms)  # side by side
        spoken, pcm = [reply.text], bytearray(reply.pcm)
        for _ in range(MAX_TOOL_ROUNDS):
            if not reply.tool_calls:
                break
            outputs = await asyncio.gather(*map(self._run_tool, reply.tool_calls))
            messages.append(
                Message("assistant", text=reply.text, tool_calls=tuple(reply.tool_calls))
            )
            messages += [
                Message("tool", text=output, call_id=call.call_id)
                for call, output in zip(reply.tool_calls, outputs, strict=True)
            ]
            reply = await self._respond(messages, tools)
            self.provider_ms += reply.provider_ms
            spoken.append(reply.text)
            pcm += reply.pcm
        return await self._finish(transcript, " ".join(t for t in spoken if t), bytes(pcm))

    async def by_handler(self, opened: bool) -> TurnResult:
        transcript, heard_ms = await self._hear()
        after = await self._log_user(transcript)
        turn = {
            "text": self._words(transcript),
            "modality": "audio" if self.turn.audio else "text",
            "audio_ms": self.turn.audio_ms or 0,
            "turn_id": self.turn_id,
        }
        timeout = settings.AGENTFIELD_TURN_HANDLER_TIMEOUT
        said = await handler_answer(
            self.session, turn=turn, opened=opened, after=after, timeout=timeout
        )
        s = self.session
        reply = await self.provider.say(model=s.model, voice=s.voice, text=said)
        self.provider_ms += heard_ms + reply.provider_ms
        self.calls = await _turn_tool_calls_since(s, after)
        return await self._finish(transcript, said, reply.pcm)

    # Steps -------------------------------------------------------------------------------

    async def _hear(self) -> tuple[str, float]:
        """(the audio's transcript, ms it took); a typed-only turn is its own transcript."""
        if self.turn.audio is None:
            return self.turn.text, 0.0
        began = time.perf_counter()
        transcript = await self.provider.transcribe(self.turn.audio)
        return transcript, (time.perf_counter() - began) * 1000

    def _words(self, transcript: str) -> str:
        """What the user said: typed text, then the audio's transcript."""
        if self.turn.audio is None:
            return self.turn.text
        return " ".join(w for w in (self.turn.text, transcript) if w)

    async def _respond(self, messages: list[Message], tools: tuple[ToolSpec, ...]) -> Reply:
        s = self.session
        return await self.provider.respond(
            model=s.model,
            voice=s.voice,
            instructions=s.instructions,
            messages=messages,
            tools=tools,
        )

    async def _run_tool(self, call: ToolCall) -> str:
        """The output the model gets back; ``self.calls`` keeps the call's outcome."""
        entry = {
            "tool": call.name,
            "target": self.session.tool_targets.get(call.name, call.name),
            "execution_id": None,
            "status": "refused",
        }
        self.calls.append(entry)
        if call.error:
            return tool_error_output(call.error)
        try:
            entry["execution_id"] = await tool_call_start(
                self.session, name=call.name, arguments=call.arguments, call_id=call.call_id
            )
        except ApiError as exc:
            return refusal_output(exc)
        except Exception:
            # The model still gets an answer, so the turn ends instead of failing whole.
            log.exception("session %s: tool call %r failed", self.session.session_id, call.name)
            entry["status"] = "failed"
            return tool_error_output("the tool call failed on the server")
        entry["status"] = "queued"
        output, summary = await tool_call_wait(entry["execution_id"])
        entry["status"] = summary["status"]
        return output

    async def _log_user(self, transcript: str) -> int:
        data = {
            "text": self._words(transcript),
            "audio_ms": self.turn.audio_ms,
            "modality": "audio" if self.turn.audio else "text",
            "turn_id": self.turn_id,
        }
        return (await _append(self.session, "turn.user", data)).pk

    async def _finish(self, transcript: str, text: str, pcm: bytes) -> TurnResult:
        out_ms = len(pcm) // BYTES_PER_MS
        provider_ms = round(self.provider_ms, 1)
        said = {
            "text": text,
            "turn_id": self.turn_id,
            "audio_ms": out_ms,
            "provider_ms": provider_ms,
        }
        await _record(
            self.session,
            user_text=self._words(transcript),
            assistant_text=text,
            audio_in_ms=self.turn.audio_ms or 0,
            audio_out_ms=out_ms,
            assistant_event=said,
        )
        return TurnResult(self.turn_id, transcript, text, pcm, self.calls, latency_ms=0.0)

    async def failed(self, exc: TurnProviderError) -> None:
        """Log the provider's failure and free the session for the next turn."""
        data = {"code": exc.code, "message": exc.message, "turn_id": self.turn_id}
        await _append(self.session, "provider.error", data)
        await _release(self.session)
