"""Each HTTP request's sync work under daphne: on a reused thread, a few at a time.

Django's ASGI handler runs every request's thread-sensitive sync code (sync views and
middleware hooks, the database) in a thread made for that request and joined after it:
about a tenth of a session start's CPU went to starting and joining threads, and with
hundreds of requests in flight, hundreds of threads fought over the GIL. This ASGI
middleware lends each request one of a process's reusable executors instead
(``asgiref``'s ``ThreadSensitiveContext(executor=...)``, which Django's own context then
joins), and takes it back when the request is over. A request's sync work still runs on
its one thread, in order, as Django expects; but at most ``slots`` such calls run at
once in the process, the others waiting their turn in arrival order. A request that
waits on the event loop (an async view) holds no slot. Decision 0029.
"""

from __future__ import annotations

import functools
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext
from django.db import connections

# Executors kept for reuse when the requests in flight fall; beyond it they are shut down.
# An idle one is a parked thread; making and joining one per request above the number
# kept cost a tenth of the throughput at 500 requests in flight.
IDLE_EXECUTORS_KEPT = 1024


class _Slots:
    """At most ``count`` calls run at once over every request's thread; the others wait
    in arrival order, each to run on its own request's thread."""

    def __init__(self, count: int) -> None:
        self._free = count
        self._waiting: deque[tuple[ThreadPoolExecutor, Callable[[], object], Future]] = deque()
        self._lock = threading.Lock()

    def run(self, thread: ThreadPoolExecutor, call: Callable[[], object]) -> Future:
        future: Future = Future()
        with self._lock:
            self._waiting.append((thread, call, future))
        self._start_waiting()
        return future

    def _start_waiting(self) -> None:
        """Start waiting calls while slots are free, skipping those cancelled meanwhile
        (their request is gone, its executor perhaps shut down)."""
        while True:
            with self._lock:
                if not self._free or not self._waiting:
                    return
                thread, call, future = self._waiting.popleft()
                if future.cancelled():
                    continue
                self._free -= 1
            try:
                thread.submit(self._running(call, future))
            except RuntimeError:  # the executor was shut down: nobody waits for this call
                future.cancel()
                self._release()

    def _running(self, call: Callable[[], object], future: Future) -> Callable[[], None]:
        def run() -> None:
            try:
                if future.set_running_or_notify_cancel():  # False: cancelled just now
                    try:
                        future.set_result(call())
                    except BaseException as exc:
                        future.set_exception(exc)
            finally:
                _return_pooled_connections()
                self._release()
                self._start_waiting()

        return run

    def _release(self) -> None:
        with self._lock:
            self._free += 1


def _return_pooled_connections() -> None:
    """Hand this thread's pooled database connections back after each call, not at the
    request's end: a request between two calls must not hold a connection that a call
    holding a slot waits for, while it waits for that slot."""
    for connection in connections.all(initialized_only=True):
        if getattr(connection, "pool", None) is not None and not connection.in_atomic_block:
            connection.close()


class _RequestExecutor(Executor):
    """One request's thread, whose calls take one of the process's slots to run."""

    def __init__(self, slots: _Slots) -> None:
        self._thread = ThreadPoolExecutor(1, "request")
        self._slots = slots

    def submit(self, fn, /, *args, **kwargs) -> Future:
        return self._slots.run(self._thread, functools.partial(fn, *args, **kwargs))

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._thread.shutdown(wait=wait, cancel_futures=cancel_futures)


def request_threads(app, slots: int, idle_kept: int = IDLE_EXECUTORS_KEPT):
    """Wrap the HTTP side of an ASGI ``app``: one borrowed executor per request, at most
    ``slots`` requests' sync calls running at once."""
    shared = _Slots(slots)
    idle: list[_RequestExecutor] = []

    async def with_thread(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)
        executor = idle.pop() if idle else _RequestExecutor(shared)
        try:
            async with ThreadSensitiveContext(executor=executor):
                await app(scope, receive, send)
        finally:
            # Work of a request cancelled mid-call may still run; the next request's work
            # queues behind it on the same thread, never beside it.
            if len(idle) < idle_kept:
                idle.append(executor)
            else:
                executor.shutdown(wait=False)

    return with_thread
