"""The agent link: the node's WebSocket to ``/api/v1/nodes/<node_id>/link``.

It carries session handler traffic (API.md section 7). It reconnects with exponential
backoff whenever it drops; live sessions survive a reconnect, since the control plane
always sends to the node's newest link.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

log = logging.getLogger("agentfield")

OnMessage = Callable[[dict[str, Any]], Awaitable[None]]
MIN_BACKOFF = 0.5
MAX_BACKOFF = 10.0
SEND_WAIT = 10.0


def link_url(server: str, node_id: str) -> str:
    base = server.rstrip("/")
    if base.startswith("https://"):
        base = "wss://" + base[len("https://") :]
    elif base.startswith("http://"):
        base = "ws://" + base[len("http://") :]
    return f"{base}/api/v1/nodes/{node_id}/link"


class AgentLink:
    def __init__(
        self,
        *,
        server: str,
        node_id: str,
        api_key: str,
        on_message: OnMessage,
        min_backoff: float = MIN_BACKOFF,
        max_backoff: float = MAX_BACKOFF,
    ) -> None:
        self.url = link_url(server, node_id)
        self.node_id = node_id
        self._api_key = api_key
        self._on_message = on_message
        self._min_backoff = min_backoff
        self._max_backoff = max_backoff
        self._ws: ClientConnection | None = None
        self.connected = asyncio.Event()
        self.connections = 0  # links that reached link.ready, for logs and tests

    async def run(self) -> None:
        """Keep the link open until cancelled."""
        backoff = self._min_backoff
        while True:
            try:
                async with connect(
                    self.url,
                    additional_headers=[("X-API-Key", self._api_key)],
                    open_timeout=10,
                    ping_interval=20,
                    ping_timeout=20,
                    close_timeout=2,
                ) as ws:
                    self._ws = ws
                    async for raw in ws:
                        if await self._receive(raw):
                            backoff = self._min_backoff
            except asyncio.CancelledError:
                raise
            except InvalidStatus as exc:
                log.warning(
                    "agent link for %s refused (HTTP %s)", self.node_id, exc.response.status_code
                )
            except (OSError, TimeoutError, InvalidHandshake) as exc:
                log.warning("agent link for %s failed: %s", self.node_id, type(exc).__name__)
            except ConnectionClosed:
                pass
            finally:
                self._ws = None
                was_connected = self.connected.is_set()
                self.connected.clear()
            if was_connected:
                log.warning("agent link for %s dropped; reconnecting", self.node_id)
            await asyncio.sleep(backoff * random.uniform(0.8, 1.2))
            backoff = min(self._max_backoff, backoff * 2)

    async def _receive(self, raw: str | bytes) -> bool:
        """Handle one frame; True when it was ``link.ready``."""
        try:
            message = json.loads(raw)
        except ValueError:
            log.warning("agent link for %s: ignoring a frame that is not JSON", self.node_id)
            return False
        if not isinstance(message, dict):
            return False
        kind = message.get("type")
        if kind == "link.ready":
            self.connections += 1
            again = " again" if self.connections > 1 else ""
            log.info("agent link for %s is open%s", self.node_id, again)
            self.connected.set()
            return True
        if kind == "error":
            log.warning(
                "agent link for %s: control plane says: %s", self.node_id, message.get("message")
            )
            return False
        try:
            await self._on_message(message)
        except Exception:
            log.exception("agent link for %s: handling %s failed", self.node_id, kind)
        return False

    async def send(self, message: dict[str, Any], wait: float = SEND_WAIT) -> None:
        """Send one message, waiting up to ``wait`` seconds for the link to be up."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.connected.wait(), wait)
        ws = self._ws
        if ws is None or not self.connected.is_set():
            raise ConnectionError(f"the agent link of {self.node_id} is not connected")
        try:
            await ws.send(json.dumps(message))
        except ConnectionClosed:
            raise ConnectionError(f"the agent link of {self.node_id} closed") from None

    async def close(self) -> None:
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()
