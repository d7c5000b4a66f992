"""A scripted OpenAI realtime double on loopback, for the adapter's tests.

The double speaks the GA wire protocol, checks the upgrade request, asserts every client event
it receives, in order, and fails on any it did not expect. Waits are on events, each with
``STEP_TIMEOUT`` as a failsafe, never on a window of wall-clock time.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import socket
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from sessions_app.providers.base import ProviderConfig, ProviderEvent
from sessions_app.providers.openai_realtime import OpenAIRealtimeAdapter

SECRET = "sk-test-" + "Zq9Xw8Vu7Ts6" * 3
MODEL = "gpt-realtime-2"
SESSION_ID = "sess_0001"
STEP_TIMEOUT = 3.0

Script = Callable[["Peer"], Awaitable[None]]
T = TypeVar("T")


async def within(awaitable: Awaitable[T]) -> T:
    """``awaitable``'s result, or a failure after ``STEP_TIMEOUT``."""
    return await asyncio.wait_for(awaitable, STEP_TIMEOUT)


class Peer:
    """The double's side of one connection, used by a test's script."""

    def __init__(self, ws: ServerConnection) -> None:
        self.ws = ws
        self.event_ids: set[str] = set()

    async def expect(self, expected: dict[str, Any]) -> str:
        """Receive the next client event and assert it equals ``expected`` (bar ``event_id``)."""
        message = json.loads(await within(self.ws.recv()))
        event_id = message.pop("event_id", None)
        assert isinstance(event_id, str), f"no event_id on {message}"
        assert re.fullmatch(r"evt_\d+", event_id) and event_id not in self.event_ids, event_id
        self.event_ids.add(event_id)
        assert message == expected, f"expected {expected}, got {message}"
        return event_id

    async def send(self, event: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(event))

    async def expect_session_update(self) -> str:
        """Receive a session.update (any session) and return its event_id."""
        message = json.loads(await within(self.ws.recv()))
        assert message["type"] == "session.update", message
        return message["event_id"]

    async def handshake(self) -> dict[str, Any]:
        """Accept any session.update and confirm it; returns the session sent."""
        message = json.loads(await within(self.ws.recv()))
        assert message["type"] == "session.update", message
        self.event_ids.add(message["event_id"])
        await self.send({"type": "session.updated", "session": message["session"]})
        return message["session"]


class Double:
    """A loopback OpenAI realtime server running one script per connection."""

    def __init__(self, script: Script, safety_source: str = SESSION_ID) -> None:
        self.script = script
        self.safety_source = safety_source
        self.failures: list[str] = []
        self.connections = 0
        self.server: Any = None
        self._script_done = asyncio.Event()
        self._script_completed = False

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/v1"

    async def __aenter__(self) -> Double:
        self.server = await serve(self._handler, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()
        await self.server.wait_closed()
        assert not self.failures, self.failures

    async def script_finished(self) -> None:
        """Returns once the script has run to its end: every event it expects has arrived.
        Fails if it stopped short (an assertion, or the connection closed under it)."""
        await within(self._script_done.wait())
        assert self._script_completed, self.failures or "the connection closed mid-script"

    async def _handler(self, ws: ServerConnection) -> None:
        self.connections += 1
        try:
            self._check_request(ws)
            await self.script(Peer(ws))
            self._script_completed = True
            self._script_done.set()
            async for raw in ws:
                self.failures.append(f"unexpected client event: {raw!r}")
        except AssertionError as exc:
            self.failures.append(str(exc))
            await ws.close(1011, "script failed")
        except ConnectionClosed:
            pass
        finally:
            self._script_done.set()

    def _check_request(self, ws: ServerConnection) -> None:
        request = ws.request
        assert request is not None
        assert request.path == f"/v1/realtime?model={MODEL}", request.path
        assert request.headers["Authorization"] == f"Bearer {SECRET}"
        expected = hashlib.sha256(self.safety_source.encode()).hexdigest()[:32]
        assert request.headers["OpenAI-Safety-Identifier"] == expected
        assert "OpenAI-Beta" not in request.headers


def config(**overrides: Any) -> ProviderConfig:
    return ProviderConfig(**{"session_id": SESSION_ID, "model": MODEL, **overrides})


async def opened(double: Double, **overrides: Any) -> OpenAIRealtimeAdapter:
    adapter = OpenAIRealtimeAdapter(api_key=SECRET, base_url=double.base_url)
    await adapter.open(config(**overrides))
    return adapter


async def take(events: AsyncIterator[ProviderEvent], count: int) -> list[ProviderEvent]:
    async with asyncio.timeout(STEP_TIMEOUT):
        return [await anext(events) for _ in range(count)]


async def drain(events: AsyncIterator[ProviderEvent]) -> list[ProviderEvent]:
    async with asyncio.timeout(STEP_TIMEOUT):
        return [event async for event in events]


async def until_reading(events: AsyncGenerator[ProviderEvent, None]) -> None:
    """Returns once a task is inside ``events`` waiting for the next one: its reader has
    started and nothing is there to read yet."""
    async with asyncio.timeout(STEP_TIMEOUT):
        while not events.ag_running:
            await asyncio.sleep(0)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
