"""Reused threads for each HTTP request's sync work under daphne.

Django's ASGI handler runs every request's thread-sensitive sync code (sync views and
middleware hooks, the database) in a thread made for that request and joined after it:
about a tenth of a session start's CPU went to starting and joining threads. This ASGI
middleware lends each request one of a process's single-thread executors instead
(``asgiref``'s ``ThreadSensitiveContext(executor=...)``, which Django's own context then
joins), and takes it back when the request is over. A request's sync work still runs on
one thread, in order, as Django expects; the threads, and their database connections'
hand-over to the pool at ``request_finished``, are reused. Decision 0029.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext

# Executors kept for reuse when the requests in flight fall; beyond it they are shut down.
IDLE_EXECUTORS_KEPT = 64


def request_threads(app, idle_kept: int = IDLE_EXECUTORS_KEPT):
    """Wrap the HTTP side of an ASGI ``app``: one borrowed executor per request."""
    idle: list[ThreadPoolExecutor] = []

    async def with_thread(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)
        executor = idle.pop() if idle else ThreadPoolExecutor(1, "request")
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
