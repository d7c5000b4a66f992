"""One OpenAI realtime response at a time (the sequencer of openai-agents).

A ``response.create`` asked for while a response is active waits, and goes out right after
that response's ``response.done``. The class holds no socket: the adapter tells it what was
sent and what the server reported, and sends what it releases.
"""

from __future__ import annotations

import collections
from typing import Any

# The error a create gets when it loses the race to a response the server started (VAD).
ACTIVE_RESPONSE = "conversation_already_has_active_response"
# Errors our own sequencing makes harmless: logged at debug, never surfaced.
QUIET_ERRORS = frozenset({ACTIVE_RESPONSE, "response_cancel_not_active"})
MAX_TRACKED_ITEMS = 64


def remember(table: dict[str, Any], key: str, value: Any) -> None:
    """``table[key] = value``, dropping the oldest entries past ``MAX_TRACKED_ITEMS``."""
    table[key] = value
    while len(table) > MAX_TRACKED_ITEMS:
        del table[next(iter(table))]


class ResponseSequencer:
    """One response at a time: ``response.create`` waits while a response is active.

    Active means the server reported ``response.created`` without ``response.done`` yet, or we
    sent a ``response.create`` that has neither started a response nor failed. A create that
    loses the race to a server-started (VAD) response fails with ``conversation_already_has_
    active_response``; it is queued again, first, and sent after that response is done.
    """

    def __init__(self) -> None:
        self.server_active = False
        self.awaiting = ""  # event_id of our last create, until response.created or its error
        self.queued: collections.deque[dict[str, Any]] = collections.deque()
        self.recent: dict[str, dict[str, Any]] = {}  # event_id -> payload, to retry on a race

    @property
    def active(self) -> bool:
        return self.server_active or bool(self.awaiting)

    def request(self, response: dict[str, Any]) -> bool:
        """True when the create may go out now; otherwise it is queued."""
        if self.active:
            self.queued.append(response)
            return False
        return True

    def sent(self, event_id: str, response: dict[str, Any]) -> None:
        self.awaiting = event_id
        remember(self.recent, event_id, response)

    def created(self) -> None:
        self.server_active = True
        self.awaiting = ""

    def done(self) -> dict[str, Any] | None:
        """The active response ended; returns the queued create to send now, if any."""
        self.server_active = False
        return self._next()

    def failed(self, event_id: str, code: Any) -> dict[str, Any] | None:
        """An error for one of our creates: retry it after a race, else forget it."""
        response = self.recent.pop(event_id, None)
        if response is None:
            return None
        if self.awaiting == event_id:
            self.awaiting = ""
        if code == ACTIVE_RESPONSE:
            self.server_active = True
            self.queued.appendleft(response)
        return self._next()

    def drop_queued(self) -> None:
        self.queued.clear()
        self.recent.clear()

    def _next(self) -> dict[str, Any] | None:
        return self.queued.popleft() if self.queued and not self.active else None
