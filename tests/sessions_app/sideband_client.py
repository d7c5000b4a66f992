"""A caller's helpers for the provider simulator's WebRTC calls: create a call through the
real ``openai`` SDK for a ``BrowserPeer``'s offer, and read its sideband as raw events."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import openai
from websockets.exceptions import ConnectionClosed

from provider_simulator import ProviderSimulator
from tests.sessions_app.webrtc_client import BrowserPeer

SESSION = {"type": "realtime", "model": "gpt-realtime-2.1", "instructions": "Be brief."}


class Sideband:
    """A sideband opened with the SDK's ``realtime.connect(call_id=...)``: raw events."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.events: list[dict[str, Any]] = []

    async def recv(self, timeout: float = 10) -> dict[str, Any]:
        event = json.loads(await asyncio.wait_for(self.connection.recv_bytes(), timeout))
        self.events.append(event)
        return event

    async def until(self, type_: str, timeout: float = 10, **match: Any) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                event = await self.recv(timeout)
                if event["type"] == type_ and all(event.get(k) == v for k, v in match.items()):
                    return event

    async def closed(self, timeout: float = 10) -> ConnectionClosed:
        """Read until the socket closes; the close as websockets saw it."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    await self.recv(timeout)
        except ConnectionClosed as closed:
            return closed
        raise AssertionError("the sideband did not close")

    def types(self) -> list[str]:
        return [e["type"] for e in self.events]

    async def send(self, event: dict[str, Any]) -> None:
        await self.connection.send(event)


async def create_call(
    api: openai.AsyncOpenAI, peer: BrowserPeer, session: dict[str, Any] | None = None
) -> str:
    """Create a call for ``peer``'s offer and connect it; the call id."""
    raw = await api.realtime.calls.with_raw_response.create(
        sdp=await peer.offer(), session=session or SESSION
    )
    assert raw.status_code == 201
    assert raw.headers["content-type"].startswith("application/sdp")
    location = raw.headers["location"]
    call_id = location.rsplit("/", 1)[-1]
    assert location == f"/v1/realtime/calls/{call_id}" and call_id.startswith("rtc_")
    answer = raw.http_response.text
    assert answer.startswith("v=0") and "a=candidate:" in answer
    candidates = [line.split()[4] for line in answer.splitlines() if line.startswith("a=cand")]
    assert set(candidates) == {"127.0.0.1"}, candidates
    await peer.accept(answer)
    await peer.connected()
    return call_id


async def open_sideband(api: openai.AsyncOpenAI, call_id: str) -> Sideband:
    sideband = Sideband(await api.realtime.connect(call_id=call_id).enter())
    created = await sideband.recv()
    assert created["type"] == "session.created"
    return sideband


def log_of(sim: ProviderSimulator, call_id: str) -> list[dict[str, Any]]:
    return [
        {k: v for k, v in e.items() if k not in ("t", "connection", "call_id")}
        for e in sim.log()
        if e.get("call_id") == call_id
    ]


async def until_logged(sim: ProviderSimulator, call_id: str, entry: dict[str, Any]) -> None:
    async with asyncio.timeout(10):
        while entry not in log_of(sim, call_id):
            await asyncio.sleep(0.02)
