"""One simulated realtime session on one WebSocket: open, one client event at a time, faults,
close. Every client event is checked against the protocol; an unknown or invalid one gets an
``error`` event (the real service's shape), so a client that strays fails loudly."""

from __future__ import annotations

import base64
import binascii
import copy
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from provider_simulator import audio
from provider_simulator.openai_realtime.conversation import Conversation, Turn
from provider_simulator.openai_realtime.input_audio import InputAudio
from provider_simulator.openai_realtime.responses import ActiveResponse, Responses
from provider_simulator.openai_realtime.session_config import (
    DEFAULT_MODEL,
    SessionConfig,
    default_session,
)
from provider_simulator.openai_realtime.wire import ClientEventError, SendText
from provider_simulator.state import SimulatorState

logger = logging.getLogger(__name__)


def loggable(event: dict[str, Any]) -> dict[str, Any]:
    """A client event for the log: an append's audio is replaced by its byte length."""
    entry = dict(event)
    if entry.get("type") == "input_audio_buffer.append" and "audio" in entry:
        raw = entry.pop("audio")
        try:
            entry["audio_bytes"] = len(base64.b64decode(raw, validate=True))
        except (TypeError, ValueError, binascii.Error):
            entry["audio_bytes"] = -1
    return entry


class RealtimeConnection(SessionConfig, InputAudio, Conversation, Responses):
    """One simulated realtime session on one WebSocket."""

    def __init__(
        self,
        state: SimulatorState,
        send_text: SendText,
        abort: Callable[[], None],
        model: str = DEFAULT_MODEL,
    ) -> None:
        super().__init__(state, send_text)
        self._abort = abort
        self.index = state.register(self)
        self.generation = state.generation
        self.session = default_session(model or DEFAULT_MODEL, state.new_id("sess"))
        self.turns: list[Turn] = []
        self.response: ActiveResponse | None = None
        self.vad = audio.EnergyVad()
        self._configure_vad()
        self.buffer = bytearray()
        self.buffer_start = 0
        self.audio_bytes = 0
        self.speech_item_id: str | None = None
        state.record(self.index, {"type": "simulator.connected", "model": self.session["model"]})

    async def open(self) -> None:
        await self.send({"type": "session.created", "session": copy.deepcopy(self.session)})

    async def close(self) -> None:
        """Forget the connection; stop any response without sending more."""
        self.closed = True
        if self.index in self.state.connections and self.generation == self.state.generation:
            self.state.record(self.index, {"type": "simulator.disconnected"})  # once
        self.state.unregister(self.index)
        response, self.response = self.response, None
        if response and response.task and not response.task.done():
            response.task.cancel()

    async def apply_fault(self, kind: str) -> None:
        self.state.record(self.index, {"type": "simulator.fault", "kind": kind})
        if kind == "error":
            await self.send_error(
                "simulated provider error", code="simulated_error", type_="server_error"
            )
            return
        self._abort()
        await self.close()

    async def handle(self, raw: str) -> None:
        """Handle one client text frame. Never raises: problems become ``error`` events."""
        event_id = None
        try:
            event = self._parse(raw)
            event_id = event.get("event_id") if isinstance(event.get("event_id"), str) else None
            handler = self.handler_for(event["type"])
            if handler is None:
                raise ClientEventError(
                    f"Invalid value: '{event['type']}'. Unknown client event type.",
                    code="unknown_event",
                    param="type",
                )
            await handler(self, event)
        except ClientEventError as exc:
            await self.send_error(
                str(exc), code=exc.code, param=exc.param or None, event_id=event_id
            )
        except Exception as exc:  # one bad event must not kill the connection
            logger.exception("provider simulator: failed to handle a client event")
            await self.send_error(
                f"simulator internal error: {exc}",
                code="simulator_error",
                type_="server_error",
                event_id=event_id,
            )

    def handler_for(self, type_: str) -> Callable[[Any, dict[str, Any]], Awaitable[None]] | None:
        """The handler of a client event type (a call adds the WebRTC-only ones)."""
        return HANDLERS.get(type_)

    def _parse(self, raw: str) -> dict[str, Any]:
        try:
            event = json.loads(raw)
        except ValueError as exc:
            self.state.record(self.index, {"type": "simulator.invalid_json", "raw": raw[:200]})
            raise ClientEventError(f"Invalid JSON: {exc}", code="invalid_json") from exc
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            self.state.record(self.index, {"type": "simulator.invalid_event", "raw": raw[:200]})
            raise ClientEventError(
                "Missing required parameter: 'type'.",
                code="missing_required_parameter",
                param="type",
            )
        self.state.record(self.index, loggable(event))
        return event


# The client events the simulator speaks; any other type is answered ``unknown_event``.
HANDLERS: dict[str, Callable[[RealtimeConnection, dict[str, Any]], Awaitable[None]]] = {
    "session.update": SessionConfig._on_session_update,
    "input_audio_buffer.append": InputAudio._on_append,
    "input_audio_buffer.commit": InputAudio._on_commit,
    "input_audio_buffer.clear": InputAudio._on_clear,
    "conversation.item.create": Conversation._on_item_create,
    "conversation.item.truncate": Conversation._on_truncate,
    "response.create": Responses._on_response_create,
    "response.cancel": Responses._on_response_cancel,
}
