"""Waiting, in the execution tests, for what a worker process does.

``wait_terminal`` waits as the sync route does (the execution group's hint, and re-reads of
the row between), so it returns as soon as the execution ends. ``announcing`` wraps an agent
double's behaviour so a test waits on the calls themselves. ``wait_until`` is for a state
nothing announces (a row the worker updates without a hint): it re-checks the condition.
Every timeout is a failsafe for a broken run, never a window a test relies on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from asgiref.sync import async_to_sync

from executions_app.models import TERMINAL_STATUSES, Execution
from executions_app.waiting import wait_for_execution_end
from tests.agent_double import Behaviour, Call

T = TypeVar("T")
FAILSAFE = 30.0


def wait_terminal(execution_id: str, timeout: float = FAILSAFE) -> Execution:
    execution = async_to_sync(wait_for_execution_end)(execution_id, timeout)
    if execution is None or execution.status not in TERMINAL_STATUSES:
        status = execution.status if execution else "missing"
        raise AssertionError(f"{execution_id} still {status} after {timeout}s")
    return execution


def wait_until(predicate: Callable[[], T], timeout: float = FAILSAFE, what: str = "condition") -> T:
    """The predicate's first truthy value, re-checked with a growing pause (at most 0.1 s)."""
    deadline = time.monotonic() + timeout
    pause = 0.005
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(pause)
        pause = min(pause * 2, 0.1)
    return value


def wait_awaiting_callback(execution_id: str) -> None:
    """Until the worker has recorded the node's 202 (the execution waits for its callback)."""
    wait_until(
        lambda: Execution.objects.get(execution_id=execution_id).awaiting_callback,
        what="the 202 to be recorded",
    )


class Arrivals:
    """Calls that reached an agent double's behaviour, counted as they arrive."""

    def __init__(self) -> None:
        self._arrived = threading.Semaphore(0)

    def wrap(self, behaviour: Behaviour) -> Behaviour:
        def announced(double, call: Call):
            self._arrived.release()
            return behaviour(double, call)

        return announced

    def wait(self, count: int = 1, timeout: float = FAILSAFE, what: str = "a call") -> None:
        deadline = time.monotonic() + timeout
        for _ in range(count):
            if not self._arrived.acquire(timeout=max(0.0, deadline - time.monotonic())):
                raise AssertionError(f"timed out waiting for {what}")


def announcing(behaviour: Behaviour) -> tuple[Behaviour, Arrivals]:
    """``behaviour``, and the arrivals of the calls it answers (counted before it answers)."""
    arrivals = Arrivals()
    return arrivals.wrap(behaviour), arrivals
