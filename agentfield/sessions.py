"""Session handlers on the node: the ``session`` object a handler receives, and its turns."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from agentfield.control_plane import call_input
from agentfield.errors import SessionEnded

SendMessage = Callable[[dict[str, Any]], Awaitable[None]]
ExecuteTarget = Callable[[str, dict[str, Any], str], Awaitable[Any]]


class SessionTurn(dict):
    """One user turn: ``text``, ``modality`` (``audio`` | ``text``), ``audio_ms``, ``turn_id``.

    A plain ``dict`` underneath, so it serialises as JSON as it is (``session.call(...,
    turn=turn)``); the fields are also attributes.
    """

    @classmethod
    def from_message(cls, raw: Mapping[str, Any]) -> SessionTurn:
        return cls(
            text=str(raw.get("text") or ""),
            modality=str(raw.get("modality") or "text"),
            audio_ms=int(raw.get("audio_ms") or 0),
            turn_id=str(raw.get("turn_id") or ""),
        )

    @property
    def text(self) -> str:
        return self["text"]

    @property
    def modality(self) -> str:
        return self["modality"]

    @property
    def audio_ms(self) -> int:
        return self["audio_ms"]

    @property
    def turn_id(self) -> str:
        return self["turn_id"]

    def to_dict(self) -> dict[str, Any]:
        return dict(self)


class RealtimeSession:
    """One live call of a session the node declared with a handler.

    ``await input()`` waits for the caller's next turn, ``await say(text)`` speaks exactly
    that text, ``await call(target, **kwargs)`` runs a reasoner or skill through the control
    plane with this session's id attached, and ``await end()`` hangs up.
    """

    def __init__(
        self,
        *,
        session_id: str,
        name: str,
        target: str,
        caller: str,
        metadata: Mapping[str, Any],
        definition: Mapping[str, Any],
        send: SendMessage,
        execute: ExecuteTarget,
    ) -> None:
        self.session_id = session_id
        self.name = name
        self.target = target
        self.caller = caller
        self.metadata = dict(metadata)
        self.definition = dict(definition)
        self._send = send
        self._execute = execute
        self._turns: asyncio.Queue[SessionTurn] = asyncio.Queue()
        self._arrived = asyncio.Event()
        self._ended = asyncio.Event()
        self.end_reason = ""
        self.turns_pushed = 0  # turns the control plane delivered
        self.turns_taken = 0  # turns ``input()`` returned

    def __repr__(self) -> str:
        return f"<RealtimeSession {self.session_id} {self.target}>"

    @property
    def ended(self) -> bool:
        return self._ended.is_set()

    async def input(self, timeout: float | None = None) -> SessionTurn:
        """The next user turn. Raises ``SessionEnded`` once the call is over and
        ``TimeoutError`` when ``timeout`` seconds pass without a turn."""
        if self.ended:
            raise SessionEnded(self.session_id, self.end_reason)
        if not self._turns.empty():
            self.turns_taken += 1
            return self._turns.get_nowait()
        next_turn = asyncio.ensure_future(self._turns.get())
        ended = asyncio.ensure_future(self._ended.wait())
        try:
            done, _ = await asyncio.wait(
                {next_turn, ended}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            ended.cancel()
            if not next_turn.done():
                next_turn.cancel()
        if next_turn in done:
            self.turns_taken += 1
            return next_turn.result()
        if self.ended:
            raise SessionEnded(self.session_id, self.end_reason)
        raise TimeoutError(f"no turn within {timeout:g} s")

    async def say(self, text: str, **metadata: Any) -> None:
        """Speak exactly ``text`` to the caller (``metadata`` is accepted for upstream
        compatibility and not sent)."""
        if self.ended:
            raise SessionEnded(self.session_id, self.end_reason)
        await self._send({"type": "session.say", "session_id": self.session_id, "text": text})

    async def end(self, reason: str | None = None) -> None:
        """Hang up. Idempotent; a no-op once the call is over."""
        if self.ended:
            return
        message: dict[str, Any] = {"type": "session.end", "session_id": self.session_id}
        if reason:
            message["reason"] = reason
        await self._send(message)
        self.mark_ended(reason or "ended by the handler")

    async def call(
        self, target: str, payload: Mapping[str, Any] | None = None, /, **kwargs: Any
    ) -> Any:
        """Run ``<node>.<name>`` through the control plane with this session's id attached;
        the input is ``payload`` and/or the keyword arguments. Returns the result or raises
        ``ExecutionError``."""
        return await self._execute(target, call_input(payload, kwargs), self.session_id)

    # --- fed by the agent link -----------------------------------------------------------

    @property
    def has_turn(self) -> bool:
        return not self._turns.empty()

    def push_turn(self, turn: SessionTurn) -> None:
        if not self.ended:
            self._turns.put_nowait(turn)
            self.turns_pushed += 1
            self._arrived.set()

    async def wait_for_turn(self, after: int) -> None:
        """Until more than ``after`` turns have been delivered, or the call is over."""
        while self.turns_pushed <= after and not self.ended:
            self._arrived.clear()
            waits = {
                asyncio.ensure_future(self._arrived.wait()),
                asyncio.ensure_future(self._ended.wait()),
            }
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waits:
                    waiter.cancel()

    def mark_ended(self, reason: str = "") -> None:
        if not self.ended:
            self.end_reason = reason
            self._ended.set()
