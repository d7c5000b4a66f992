"""Runs the node's session handlers: one task per live call, fed by the agent link.

``session.started`` starts the handler, ``session.input`` queues a turn for it and
``session.ended`` makes its next ``input()``/``say()`` raise ``SessionEnded``.

A handler that returns does not hang up (decision 0019): the call stays live and the next
user turn runs the handler again, a fresh invocation on the same ``session`` with that turn
waiting in ``input()``. The call ends by ``session.end()``, the caller, the control plane
(``end`` route, expiry) or a handler that raises, which fails it (``session.error``) and is
logged. Nothing a handler does ever stops the node.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from agentfield.context import ExecutionContext, set_context
from agentfield.errors import SessionEnded
from agentfield.sessions import ExecuteTarget, RealtimeSession, SessionTurn
from agentfield.targets import DeclaredSession

log = logging.getLogger("agentfield")

Send = Callable[[dict[str, Any]], Awaitable[None]]
END_GRACE = 5.0  # seconds a handler may keep running after its call ended


class SessionHost:
    def __init__(
        self,
        node_id: str,
        sessions: Mapping[str, DeclaredSession],
        send: Send,
        execute: ExecuteTarget,
        end_grace: float = END_GRACE,
    ) -> None:
        self.node_id = node_id
        self._sessions = sessions
        self._send = send
        self._execute = execute
        self._end_grace = end_grace
        self.live: dict[str, RealtimeSession] = {}
        self._tasks: dict[str, asyncio.Task] = {}

    async def on_message(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        session_id = str(message.get("session_id") or "")
        if not session_id:
            return
        if kind == "session.started":
            await self._start(session_id, message)
        elif kind == "session.input":
            await self._input(session_id, message)
        elif kind == "session.ended":
            self._ended(session_id, str(message.get("reason") or ""))

    async def _start(self, session_id: str, message: dict[str, Any]) -> None:
        if session_id in self.live:
            return
        target = str(message.get("target") or "")
        name = target.split(".", 1)[1] if "." in target else target
        declared = self._sessions.get(name)
        if declared is None or declared.handler is None:
            log.warning("session %s: %s has no handler for %r", session_id, self.node_id, name)
            await self._tell(
                "session.error", session_id, message=f"{self.node_id} has no handler for {name!r}"
            )
            return
        session = RealtimeSession(
            session_id=session_id,
            name=name,
            target=target,
            caller=str(message.get("caller") or ""),
            metadata=message.get("metadata") or {},
            definition=declared.definition,
            send=self._send,
            execute=self._execute,
        )
        self.live[session_id] = session
        log.info("session %s started (%s, caller %s)", session_id, target, session.caller or "-")
        task = asyncio.create_task(
            self._run(session, declared.handler), name=f"agentfield-session:{session_id}"
        )
        self._tasks[session_id] = task

    async def _input(self, session_id: str, message: dict[str, Any]) -> None:
        session = self.live.get(session_id)
        if session is None:
            await self._tell(
                "session.error",
                session_id,
                message=f"no handler is running for this session on {self.node_id} "
                "(the node may have restarted)",
            )
            return
        turn = message.get("turn")
        session.push_turn(SessionTurn.from_message(turn if isinstance(turn, dict) else {}))

    def _ended(self, session_id: str, reason: str) -> None:
        session = self.live.get(session_id)
        if session is None:
            return
        session.mark_ended(reason)
        task = self._tasks.get(session_id)
        if task is not None and not task.done():
            asyncio.get_running_loop().call_later(self._end_grace, task.cancel)

    async def _run(self, session: RealtimeSession, handler) -> None:
        """One task per live call: the handler, then again for each next turn."""
        set_context(ExecutionContext(session_id=session.session_id))
        try:
            while not session.ended:
                taken, pushed = session.turns_taken, session.turns_pushed
                if not await self._invoke(session, handler):
                    return
                if session.ended:
                    return
                moved = session.turns_taken > taken or session.turns_pushed > pushed
                if not (session.has_turn and moved):
                    # waits for a new turn: never spins on one the handler leaves queued
                    log.info(
                        "session %s: the handler returned; the next turn runs it again",
                        session.session_id,
                    )
                    await session.wait_for_turn(after=session.turns_pushed)
        finally:
            self.live.pop(session.session_id, None)
            self._tasks.pop(session.session_id, None)
            log.info("session %s is over (%s)", session.session_id, session.end_reason or "-")

    async def _invoke(self, session: RealtimeSession, handler) -> bool:
        """Run the handler once; False once the call is over (ended, cancelled, failed)."""
        try:
            await handler(session)
        except SessionEnded:
            return False
        except asyncio.CancelledError:
            if not session.ended:
                raise
            return False
        except Exception as exc:
            log.exception("session %s: the handler failed", session.session_id)
            if not session.ended:
                session.mark_ended("handler error")
                await self._tell(
                    "session.error", session.session_id, message=f"{type(exc).__name__}: {exc}"
                )
            return False
        return True

    async def _tell(self, kind: str, session_id: str, **fields: Any) -> None:
        if "message" in fields:
            fields["message"] = str(fields["message"])[:300]
        try:
            await self._send({"type": kind, "session_id": session_id, **fields})
        except (ConnectionError, OSError) as exc:
            log.warning("session %s: could not send %s: %s", session_id, kind, exc)

    async def shutdown(self, reason: str = "the agent node is shutting down") -> None:
        """End every live call, then give the handlers a moment before cancelling them."""
        for session_id, session in list(self.live.items()):
            if not session.ended:
                await self._tell("session.end", session_id, reason=reason)
                session.mark_ended(reason)
        tasks = list(self._tasks.values())
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=2)
            for task in pending:
                task.cancel()
            with contextlib.suppress(Exception):
                await asyncio.gather(*pending, return_exceptions=True)
