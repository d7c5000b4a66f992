"""Sending server events, and the base every part of a realtime connection builds on."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

from provider_simulator.state import SimulatorState

if TYPE_CHECKING:
    from provider_simulator import audio
    from provider_simulator.openai_realtime.conversation import Turn
    from provider_simulator.openai_realtime.responses import ActiveResponse

SendText = Callable[[str], Awaitable[None]]


class AudioOut(Protocol):
    """Where a response's audio goes instead of ``response.output_audio.delta`` events: a
    WebRTC call's outgoing track, which sends the ``output_audio_buffer.*`` events."""

    async def play(self, response_id: str, pcm: bytes) -> None:
        """Queue audio of a response for playback (the first of a response: ``started``)."""

    async def response_done(self, response_id: str) -> None:
        """The response sends no more audio: ``stopped`` once what is queued has played."""

    async def clear(self, *, requested: bool = False) -> None:
        """Cut playback now (``cleared``); ``requested``: the client asked, answer anyway."""


class ClientEventError(Exception):
    """A client event is invalid: reported as an ``error`` event, the socket stays open."""

    def __init__(self, message: str, *, code: str = "invalid_request_error", param: str = ""):
        super().__init__(message)
        self.code = code
        self.param = param


class RealtimeWire:
    """What every part of a connection shares: its state and the way out to the client.

    ``RealtimeConnection`` combines the parts (session config, input audio, conversation,
    responses); the attributes and methods below the line are theirs, declared here so each
    part can use the others'.
    """

    def __init__(self, state: SimulatorState, send_text: SendText) -> None:
        self.state = state
        self._send_text = send_text
        self._send_lock = asyncio.Lock()
        self.closed = False
        self.audio_out: AudioOut | None = None  # None: audio travels as delta events

    async def send(self, event: dict[str, Any]) -> None:
        """Send one server event (adds ``event_id``); a no-op once the connection is gone."""
        if self.closed:
            return
        payload = json.dumps({"event_id": self.state.new_id("event"), **event})
        async with self._send_lock:
            if self.closed:
                return
            try:
                await self._send_text(payload)
            except (ConnectionError, RuntimeError):  # the peer went away mid-send
                self.closed = True

    async def send_error(
        self,
        message: str,
        *,
        code: str,
        type_: str = "invalid_request_error",
        param: str | None = None,
        event_id: str | None = None,
    ) -> None:
        error = {
            "type": type_,
            "code": code,
            "message": message,
            "param": param,
            "event_id": event_id,
        }
        await self.send({"type": "error", "error": error})

    if TYPE_CHECKING:
        index: int
        session: dict[str, Any]
        turns: list[Turn]
        response: ActiveResponse | None
        vad: audio.EnergyVad
        speech_item_id: str | None

        @property
        def turn_detection(self) -> dict[str, Any] | None: ...

        async def apply_fault(self, kind: str) -> None: ...

        async def start_response(self, request: dict[str, Any], *, automatic: bool) -> None: ...

        async def cancel_response(self, reason: str) -> bool: ...

        async def _item_added(self, item: dict[str, Any], previous: str | None) -> None: ...

        def _latest_user_turn(self) -> Turn | None: ...
