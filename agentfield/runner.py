"""Running nodes: ``run(*agents)`` blocks until SIGINT/SIGTERM; ``serve_all`` embeds."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from agentfield.errors import AgentFieldError

if TYPE_CHECKING:
    from agentfield.agent import Agent

log = logging.getLogger("agentfield")


def _install_signal_handlers(stop: asyncio.Event) -> Callable[[], None]:
    """SIGINT and SIGTERM set ``stop`` (main thread only); returns the undo."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)

    def remove() -> None:
        for sig in signals:
            loop.remove_signal_handler(sig)

    return remove


async def _start_all(agents: Sequence[Agent]) -> None:
    async with asyncio.TaskGroup() as group:
        for agent in agents:
            group.create_task(agent.start())


async def serve_all(
    agents: Sequence[Agent], stop: asyncio.Event | None = None, *, handle_signals: bool = False
) -> None:
    """Start every node, serve until ``stop`` is set (or cancelled), then stop them all."""
    ids = [agent.node_id for agent in agents]
    if len(set(ids)) != len(ids):
        raise ValueError(f"node ids must be distinct: {ids}")
    stop = stop or asyncio.Event()
    remove_handlers = _install_signal_handlers(stop) if handle_signals else lambda: None
    stopping = asyncio.ensure_future(stop.wait())
    starting = asyncio.ensure_future(_start_all(agents))
    try:
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if starting.done():
            try:
                starting.result()
            except BaseExceptionGroup as group:
                raise group.exceptions[0] from None
            await stopping
    finally:
        for task in (starting, stopping):
            task.cancel()
        with contextlib.suppress(BaseException):
            await starting
        log.info("stopping %s", ", ".join(ids))
        await asyncio.gather(*(agent.stop() for agent in agents), return_exceptions=True)
        remove_handlers()


def _configure_logging() -> None:
    """Visible INFO logs when the application has not configured logging itself."""
    if logging.getLogger().handlers:
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    for noisy in ("httpx", "httpcore", "websockets"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def run(*agents: Agent) -> None:
    """Serve ``agents`` in this process until SIGINT or SIGTERM; exit 1 if one cannot start."""
    if not agents:
        raise ValueError("run() needs at least one Agent")
    _configure_logging()
    try:
        asyncio.run(serve_all(agents, handle_signals=True))
    except AgentFieldError as exc:
        log.error("%s", exc)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        pass
