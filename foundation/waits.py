"""Waiting on the database with channel-layer hints between re-reads.

Channel delivery is at most once (and the in-memory layer does not cross processes), so a
wait listens on a group *and* re-reads its row, with a growing interval. Nothing here
holds a thread while it waits.
"""

from __future__ import annotations

import asyncio
import contextlib

from channels.layers import InMemoryChannelLayer, get_channel_layer

FIRST_RECHECK = 0.01
MAX_RECHECK = 0.5
# The in-memory layer cannot carry the worker's hint across processes: the re-read is the
# only news, so it must come often (a read of one row by key costs well under 1 ms).
MAX_RECHECK_WITHOUT_HINTS = 0.025


class GroupHints:
    """Hints on a channel-layer group, for a loop that re-reads the database between them.

    ``pause(remaining)`` returns at the next hint or after a re-read interval that grows
    while nothing comes. One receive stays pending across pauses: cancelling a Redis
    receive drops its connection, so it is cancelled once, on exit.
    """

    def __init__(self, group: str) -> None:
        self.group = group
        self.layer = get_channel_layer()
        self.channel = ""
        self.recheck = FIRST_RECHECK
        # Without cross-process hints (in-memory layer) the re-read is the only news.
        self.max_recheck = (
            MAX_RECHECK_WITHOUT_HINTS
            if isinstance(self.layer, InMemoryChannelLayer)
            else MAX_RECHECK
        )
        self._hint: asyncio.Future | None = None

    async def __aenter__(self) -> GroupHints:
        self.channel = await self.layer.new_channel("wait.")
        await self.layer.group_add(self.group, self.channel)
        return self

    async def pause(self, remaining: float) -> None:
        if self._hint is None or self._hint.done():
            self._hint = asyncio.ensure_future(self.layer.receive(self.channel))
        done, _ = await asyncio.wait({self._hint}, timeout=min(self.recheck, remaining))
        if done:
            with contextlib.suppress(Exception):  # a failed receive is just no hint
                self._hint.result()
        self.recheck = FIRST_RECHECK if done else min(self.recheck * 2, self.max_recheck)

    async def __aexit__(self, *exc_info) -> None:
        if self._hint is not None and not self._hint.done():
            self._hint.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._hint
        await self.layer.group_discard(self.group, self.channel)
