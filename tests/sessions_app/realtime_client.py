"""A test client of the realtime WebSocket transport, in-process (Channels' communicator)."""

from __future__ import annotations

import base64
import time
from typing import Any

from channels.testing import WebsocketCommunicator

from agentfield_site.asgi import application
from provider_simulator.audio import silence, tone

CHUNK_MS = 100


def speech_chunks(speech_ms: int = 800, silence_ms: int = 700) -> list[str]:
    """A voiced stretch then the silence that ends the turn, as base64 100 ms appends."""
    pcm = tone(speech_ms) + silence(silence_ms)
    step = 48 * CHUNK_MS
    return [base64.b64encode(pcm[i : i + step]).decode() for i in range(0, len(pcm), step)]


class RealtimeClient:
    def __init__(self, session_id: str, *, headers=(), query: str = "") -> None:
        path = f"/api/v1/session-instances/{session_id}/realtime{query}"
        self.communicator = WebsocketCommunicator(application, path, headers=list(headers))
        self.received: list[dict[str, Any]] = []

    async def connect(self) -> None:
        connected, _ = await self.communicator.connect(timeout=10)
        assert connected

    async def send(self, event: dict[str, Any]) -> None:
        await self.communicator.send_json_to(event)

    async def speak(self, speech_ms: int = 800, silence_ms: int = 700) -> None:
        for chunk in speech_chunks(speech_ms, silence_ms):
            await self.send({"type": "input_audio_buffer.append", "audio": chunk})

    async def next(self, timeout: float = 10) -> dict[str, Any]:
        event = await self.communicator.receive_json_from(timeout=timeout)
        self.received.append(event)
        return event

    async def until(self, type: str, timeout: float = 15, **match: Any) -> dict[str, Any]:
        """Read events until one of ``type`` (and matching fields) arrives."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                seen = [e["type"] for e in self.received[-30:]]
                raise AssertionError(f"no {type} within {timeout}s; last events: {seen}")
            try:
                event = await self.next(timeout=remaining)
            except TimeoutError:
                continue
            if event["type"] == type and all(event.get(k) == v for k, v in match.items()):
                return event

    def types(self) -> list[str]:
        return [e["type"] for e in self.received]

    async def closed_code(self, timeout: float = 10) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            output = await self.communicator.receive_output(timeout=deadline - time.monotonic())
            if output["type"] == "websocket.close":
                return output.get("code", 1000)
        raise AssertionError("the socket did not close")

    async def close(self) -> None:
        await self.communicator.disconnect()
