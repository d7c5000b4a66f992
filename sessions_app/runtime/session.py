"""``SessionRuntime``: one live call, between its transport and its provider adapter.

It lives as tasks on the event loop of the process that accepted the transport. It is the
call's state machine (``created -> connecting -> active -> ended | failed | expired``) and
owns the provider connection; it runs the model's tool calls through the session tool
path; user turns go to the node's handler through its ``HandlerBridge``; usage and expiry
are the ``heartbeat``'s. It ends the call through the one idempotent path, whoever asks
(client, ``end`` route, handler, provider, expiry).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import secrets
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from foundation.errors import ApiError
from sessions_app.hints import session_group
from sessions_app.models import SessionInstance, SessionStatus
from sessions_app.providers.base import (
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
from sessions_app.runtime.handler_bridge import HandlerBridge
from sessions_app.runtime.heartbeat import UsageCounters, heartbeat
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
)

log = logging.getLogger(__name__)

_append = database_sync_to_async(session_event_append)
_finish = database_sync_to_async(session_finish)
_activate = database_sync_to_async(session_activate)
_refresh = database_sync_to_async(SessionInstance.refresh_from_db)
_tool_specs = database_sync_to_async(tool_specs)


class SessionRuntime:
    """One live call: ``start()`` takes a connecting session to active, ``end()`` (once,
    whoever calls it) to its final state; in between it relays the transport's commands to
    the provider and the provider's events to the transport, the tool path and the handler."""

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
        self._end_task: asyncio.Future | None = None
        self._counters = UsageCounters(session)
        self._handler = HandlerBridge(session, adapter, sink)

    # --- starting ------------------------------------------------------------------------

    async def start(self) -> bool:
        """Open the provider and go active. False (session failed, client told) if not."""
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
        self._spawn(heartbeat(self.session, self._counters, self.end), "heartbeat")
        active = {"session_id": self.session_id, "handler": self.session.handler}
        await self.sink.deliver(Notice("session.active", active))
        if self.session.handler:
            await self._handler.to_node(
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
        self._counters.audio_in(pcm)
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
            await self._handler.input(text, "text", 0, turn_id)
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
                if self._ending:
                    return
                if event.hung_up:  # a direct call ended at the provider in good order
                    await self.end(SessionStatus.ENDED, event.reason or "the call ended")
                    return
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
            self._handler.response_done()
        elif isinstance(event, AudioOut):
            self._counters.audio_out(event.pcm)
        elif isinstance(event, UserTranscript):
            turn_id = await self._user_turn(event.text, modality="audio", audio_ms=event.audio_ms)
            if self.session.handler:
                await self._handler.input(event.text, "audio", event.audio_ms, turn_id)
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
        self._counters.turn()
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
        await self._tool_notice("tool.result", call, status=status, error=tool_error_body(message))

    async def _tool_round(self, call: ToolCall) -> None:
        try:
            execution_id = await tool_call_start(
                self.session, name=call.name, arguments=call.arguments, call_id=call.call_id
            )
        except ApiError as exc:
            await self._tool_notice("tool.result", call, status="refused", error=exc.body)
            await self.adapter.send_tool_result(call.call_id, refusal_output(exc))
            return
        arguments = call.arguments
        await self._tool_notice("tool.call", call, arguments=arguments, execution_id=execution_id)
        output, summary = await tool_call_wait(execution_id)
        if self._ending:
            return
        await self.adapter.send_tool_result(call.call_id, output)
        await self._tool_notice("tool.result", call, **summary)

    async def _tool_notice(self, type: str, call: ToolCall, **fields: Any) -> None:
        data = {"tool": call.name, "call_id": call.call_id, **fields}
        await self.sink.deliver(Notice(type, data))

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

    # --- the inbox: the handler, the end route, tool calls made elsewhere ------------

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
            await self._handler.say(str(message.get("text") or ""))
        elif kind == "session.tool_call":
            self._spawn(self._follow_tool(message), "tool")
        elif kind == "session.end":
            await self._handler.drain_speech()
            await self.end(SessionStatus.ENDED, message.get("reason") or "ended by the handler")
        elif kind == "session.error":
            reason = f"handler error: {message.get('message') or 'unknown'}"
            await self.end(SessionStatus.FAILED, reason[:300])

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
                await self._counters.flush()
            await _finish(self.session, status=status, reason=reason)
            await _refresh(self.session)
            final_status, final_reason = self.session.status, self.session.end_reason
            if self._channel:
                with contextlib.suppress(Exception):
                    await get_channel_layer().group_discard(
                        session_group(self.session_id), self._channel
                    )
            if self.session.handler:
                await self._handler.to_node("session.ended", reason=final_reason)
            with contextlib.suppress(Exception):
                await self.sink.deliver(Notice(f"session.{final_status}", {"reason": final_reason}))
            with contextlib.suppress(Exception):
                await self.sink.release(final_status, final_reason)
        finally:
            self.finished.set()
