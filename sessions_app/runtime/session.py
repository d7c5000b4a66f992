"""``SessionRuntime``: one live call, between its transport and its provider adapter.

It lives as tasks on the event loop of the process that accepted the transport. It owns
the provider connection; it runs the model's tool calls through the session tool path;
it hands user turns to the node's handler and speaks what the handler says; and it ends
the call through the one idempotent path, whoever asks (client, ``end`` route, handler,
provider, expiry).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import secrets
from datetime import datetime
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.utils import timezone

from foundation.errors import ApiError
from sessions_app.hints import session_group
from sessions_app.models import SessionInstance, SessionStatus
from sessions_app.providers.base import (
    BYTES_PER_MS,
    AssistantTranscript,
    AudioOut,
    ProviderAdapter,
    ProviderClosed,
    ProviderConfig,
    ProviderError,
    ProviderEvent,
    ProviderUnavailable,
    ResponseDone,
    ResponseStarted,
    SpeechStarted,
    ToolCall,
    UserTranscript,
)
from sessions_app.runtime import registry
from sessions_app.runtime.sink import Notice, RuntimeSink
from sessions_app.runtime.tools import (
    refusal_output,
    tool_call_start,
    tool_call_wait,
    tool_error_body,
    tool_error_output,
    tool_specs,
)
from sessions_app.services.events import session_event_append
from sessions_app.services.lifecycle import (
    session_activate,
    session_finish,
    session_touch,
)
from sessions_app.services.links import link_channel

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 10.0
# A handler that ends its session right after a say must not cut the say off.
SPEECH_DRAIN_SECONDS = 30.0

_append = database_sync_to_async(session_event_append)
_touch = database_sync_to_async(session_touch)
_finish = database_sync_to_async(session_finish)
_activate = database_sync_to_async(session_activate)
_refresh = database_sync_to_async(SessionInstance.refresh_from_db)
_tool_specs = database_sync_to_async(tool_specs)
_link_channel = database_sync_to_async(link_channel)


class SessionRuntime:
    def __init__(
        self, session: SessionInstance, adapter: ProviderAdapter, sink: RuntimeSink
    ) -> None:
        self.session = session
        self.session_id = session.session_id
        self.adapter = adapter
        self.sink = sink
        self.responding = False
        self.start_error: ProviderUnavailable | None = None  # why start() failed, if it did
        self.finished = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()
        self._ending = False
        self._channel = ""
        self._audio_in_bytes = 0
        self._audio_out_bytes = 0
        self._turns = 0
        self._end_task: asyncio.Future | None = None
        self._says_pending = 0
        self._speech_idle = asyncio.Event()
        self._speech_idle.set()

    # --- starting ------------------------------------------------------------------------

    async def start(self) -> bool:
        """Open the provider and go active. False (session failed, client told) if not."""
        registry.register(self)
        try:
            config = ProviderConfig(
                session_id=self.session_id,
                model=self.session.model,
                voice=self.session.voice,
                instructions=self.session.instructions,
                tools=await _tool_specs(self.session),
                turn_detection=self.session.turn_detection,
                auto_respond=not self.session.handler,
            )
            await self.adapter.open(config)
        except ProviderUnavailable as exc:
            self.start_error = exc
            await self.end(SessionStatus.FAILED, f"provider unavailable: {exc}")
            return False
        except Exception:
            log.exception("opening the provider failed for %s", self.session_id)
            self.start_error = ProviderUnavailable("unexpected error", code="error")
            await self.end(SessionStatus.FAILED, "provider unavailable: unexpected error")
            return False
        if not await _activate(self.session):
            await _refresh(self.session)  # ended meanwhile (end route, expiry)
            await self.end(self.session.status, self.session.end_reason or "ended")
            return False
        await self._join_inbox()
        self._spawn(self._pump_provider(), "provider")
        self._spawn(self._heartbeat(), "heartbeat")
        await self.sink.deliver(
            Notice(
                "session.active", {"session_id": self.session_id, "handler": self.session.handler}
            )
        )
        if self.session.handler:
            await self._to_node(
                "session.started",
                target=self.session.target_name,
                caller=self.session.owner_name or self.session.owner,
                metadata=self.session.metadata,
            )
        return True

    def _spawn(self, coro, name: str) -> asyncio.Task:
        # A context of its own: the task may outlive the request that started the call
        # (a WebRTC offer), whose asgiref executor dies with it.
        task = asyncio.create_task(
            coro, name=f"{name}:{self.session_id}", context=contextvars.Context()
        )
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("session %s task failed", self.session_id, exc_info=task.exception())
            if not self._ending:
                self._end_task = asyncio.ensure_future(
                    self.end(SessionStatus.FAILED, "internal error")
                )

    # --- commands from the transport -----------------------------------------------------

    async def send_audio(self, pcm: bytes) -> None:
        self._audio_in_bytes += len(pcm)
        await self.adapter.send_audio(pcm)

    async def commit_audio(self) -> None:
        await self.adapter.commit_audio()

    async def clear_audio(self) -> None:
        await self.adapter.clear_audio()

    async def send_text(self, text: str) -> None:
        """A typed turn: to the handler when there is one, else to the model."""
        turn_id = await self._user_turn(text, modality="text", audio_ms=0)
        turn = {"text": text, "modality": "text", "audio_ms": 0, "turn_id": turn_id}
        await self.sink.deliver(Notice("turn.user", turn))
        if self.session.handler:
            await self._handler_input(text, "text", 0, turn_id)
        else:
            await self.adapter.send_text(text)

    async def create_response(self) -> None:
        await self.adapter.create_response()

    async def cancel_response(self) -> None:
        await self.adapter.cancel()
        await self.sink.flush_playback()

    async def update(self, *, instructions: str | None = None, voice: str | None = None) -> None:
        await self.adapter.update(instructions=instructions, voice=voice)

    # --- provider events -----------------------------------------------------------------

    async def _pump_provider(self) -> None:
        async for event in self.adapter.events():
            if isinstance(event, ProviderClosed):
                if not self._ending:
                    reason = event.reason or "provider closed the connection"
                    await _append(self.session, "provider.error", {"message": reason})
                    await self.end(SessionStatus.FAILED, reason)
                return
            await self._on_provider_event(event)

    async def _on_provider_event(self, event: ProviderEvent) -> None:
        if isinstance(event, SpeechStarted) and self.responding:
            await self.cancel_response()  # barge-in
        elif isinstance(event, ResponseStarted):
            self.responding = True
        elif isinstance(event, ResponseDone):
            self.responding = False
            self._says_pending = max(0, self._says_pending - 1)
            if not self._says_pending:
                self._speech_idle.set()
        elif isinstance(event, AudioOut):
            self._audio_out_bytes += len(event.pcm)
        elif isinstance(event, UserTranscript):
            turn_id = await self._user_turn(event.text, modality="audio", audio_ms=event.audio_ms)
            if self.session.handler:
                await self._handler_input(event.text, "audio", event.audio_ms, turn_id)
        elif isinstance(event, AssistantTranscript) and event.final:
            await _append(self.session, "turn.assistant", {"text": event.text})
        elif isinstance(event, ToolCall):
            self._spawn(self._run_tool(event), "tool")
            return  # the tool task tells the client itself
        elif isinstance(event, ProviderError):
            await _append(
                self.session, "provider.error", {"code": event.code, "message": event.message}
            )
        await self.sink.deliver(event)

    async def _user_turn(self, text: str, *, modality: str, audio_ms: int) -> str:
        self._turns += 1
        turn_id = f"turn_{secrets.token_hex(6)}"
        data = {"text": text, "audio_ms": audio_ms, "modality": modality, "turn_id": turn_id}
        await _append(self.session, "turn.user", data)
        return turn_id

    async def _run_tool(self, call: ToolCall) -> None:
        """One function call of the model. Whatever goes wrong, the model gets a result, so
        the call goes on instead of waiting for a tool task that died."""
        if call.error:
            await self._tool_not_run(call, "refused", call.error)
            return
        try:
            await self._tool_round(call)
        except Exception:
            log.exception("session %s: tool call %r failed", self.session_id, call.name)
            if not self._ending:
                await self._tool_not_run(call, "failed", "the tool call failed on the server")

    async def _tool_not_run(self, call: ToolCall, status: str, message: str) -> None:
        await self.adapter.send_tool_result(call.call_id, tool_error_output(message))
        await self.sink.deliver(
            Notice("tool.result", {"tool": call.name, "call_id": call.call_id,
                                   "status": status, "error": tool_error_body(message)})
        )  # fmt: skip

    async def _tool_round(self, call: ToolCall) -> None:
        try:
            execution_id = await tool_call_start(
                self.session, name=call.name, arguments=call.arguments, call_id=call.call_id
            )
        except ApiError as exc:
            await self.sink.deliver(
                Notice("tool.result", {"tool": call.name, "call_id": call.call_id,
                                       "status": "refused", "error": exc.body})
            )  # fmt: skip
            await self.adapter.send_tool_result(call.call_id, refusal_output(exc))
            return
        await self.sink.deliver(
            Notice("tool.call", {"tool": call.name, "call_id": call.call_id,
                                 "arguments": call.arguments, "execution_id": execution_id})
        )  # fmt: skip
        output, summary = await tool_call_wait(execution_id)
        if self._ending:
            return
        await self.adapter.send_tool_result(call.call_id, output)
        await self.sink.deliver(
            Notice("tool.result", {"tool": call.name, "call_id": call.call_id, **summary})
        )

    async def _follow_tool(self, message: dict[str, Any]) -> None:
        """A tool call someone else made in this session (the handler, the REST route):
        the caller sees it and its result like the model's own."""
        tool, execution_id = message.get("tool", ""), message.get("execution_id", "")
        by = {"by": message["by"]} if message.get("by") else {}
        call = {"tool": tool, "call_id": "", "arguments": message.get("arguments") or {}, **by}
        await self.sink.deliver(Notice("tool.call", {**call, "execution_id": execution_id}))
        _, summary = await tool_call_wait(execution_id)
        if not self._ending:
            result = {"tool": tool, "call_id": "", **summary, **by}
            await self.sink.deliver(Notice("tool.result", result))

    # --- the handler (agent link) --------------------------------------------------------

    async def _handler_input(self, text: str, modality: str, audio_ms: int, turn_id: str) -> None:
        turn = {"text": text, "modality": modality, "audio_ms": audio_ms, "turn_id": turn_id}
        await self._to_node("session.input", turn=turn)

    async def _to_node(self, type: str, **fields: Any) -> None:
        """To the node's newest link (one connection, so a turn is never handled twice)."""
        message = {"type": type, "session_id": self.session_id, **fields}
        channel = await _link_channel(self.session.node_id)
        if channel is None:
            log.warning("session %s: node %s has no link", self.session_id, self.session.node_id)
            if type == "session.input":
                await self.sink.deliver(
                    Notice("error", {"code": "handler_not_connected",
                                     "message": f"the session handler of {self.session.node_id} "
                                     "is not connected"})
                )  # fmt: skip
            return
        try:
            await get_channel_layer().send(channel, message)
        except Exception:
            log.warning("could not reach node %s", self.session.node_id, exc_info=True)

    async def _drain_speech(self) -> None:
        """Let what the handler said be spoken before its end closes the call."""

        async def drained() -> None:
            await self._speech_idle.wait()
            await self.sink.playback_drained()

        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(drained(), SPEECH_DRAIN_SECONDS)

    async def _join_inbox(self) -> None:
        layer = get_channel_layer()
        self._channel = await layer.new_channel("session.")
        await layer.group_add(session_group(self.session_id), self._channel)
        self._spawn(self._read_inbox(), "inbox")

    async def _read_inbox(self) -> None:
        layer = get_channel_layer()
        while True:
            message = await layer.receive(self._channel)
            await self._on_inbox(message)

    async def _on_inbox(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "session.finished":
            await self.end(message.get("status", SessionStatus.ENDED), message.get("reason", ""))
        elif kind == "session.say":
            text = str(message.get("text") or "")
            await _append(self.session, "handler.say", {"text": text})
            await self.sink.deliver(Notice("handler.say", {"text": text}))
            self._says_pending += 1
            self._speech_idle.clear()
            await self.adapter.say(text)
        elif kind == "session.tool_call":
            self._spawn(self._follow_tool(message), "tool")
        elif kind == "session.end":
            await self._drain_speech()
            await self.end(SessionStatus.ENDED, message.get("reason") or "ended by the handler")
        elif kind == "session.error":
            reason = f"handler error: {message.get('message') or 'unknown'}"
            await self.end(SessionStatus.FAILED, reason[:300])

    # --- time ----------------------------------------------------------------------------

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self._seconds_to_next_beat())
            await self._flush_counters()
            await _refresh(self.session)
            if not self.session.is_live:
                await self.end(self.session.status, self.session.end_reason)
                return
            if self.session.expires_at <= timezone.now():
                await self.end(SessionStatus.ENDED, "maximum session duration reached")
                return

    def _seconds_to_next_beat(self) -> float:
        expires: datetime = self.session.expires_at
        remaining = (expires - timezone.now()).total_seconds()
        return max(0.0, min(HEARTBEAT_SECONDS, remaining))

    async def _flush_counters(self) -> None:
        in_ms, out_ms = self._audio_in_bytes // BYTES_PER_MS, self._audio_out_bytes // BYTES_PER_MS
        self._audio_in_bytes -= in_ms * BYTES_PER_MS
        self._audio_out_bytes -= out_ms * BYTES_PER_MS
        turns, self._turns = self._turns, 0
        await _touch(self.session, audio_in_ms=in_ms, audio_out_ms=out_ms, turns=turns)

    # --- ending --------------------------------------------------------------------------

    async def end(self, status: str = SessionStatus.ENDED, reason: str = "") -> None:
        """Idempotent: close the provider and the transport, write the end, tell the node."""
        if self._ending:
            await self.finished.wait()
            return
        self._ending = True
        try:
            current = asyncio.current_task()
            for task in list(self._tasks):
                if task is not current:
                    task.cancel()
            with contextlib.suppress(Exception):
                await self.adapter.close()
            with contextlib.suppress(Exception):
                await self._flush_counters()
            await _finish(self.session, status=status, reason=reason)
            await _refresh(self.session)
            final_status, final_reason = self.session.status, self.session.end_reason
            if self._channel:
                with contextlib.suppress(Exception):
                    await get_channel_layer().group_discard(
                        session_group(self.session_id), self._channel
                    )
            if self.session.handler:
                await self._to_node("session.ended", reason=final_reason)
            with contextlib.suppress(Exception):
                await self.sink.deliver(Notice(f"session.{final_status}", {"reason": final_reason}))
            with contextlib.suppress(Exception):
                await self.sink.release(final_status, final_reason)
        finally:
            registry.unregister(self.session_id)
            self.finished.set()
