"""``foundation.request_threads``: each request's sync calls on its own reused thread, at
most ``slots`` of them running at once, pooled database connections handed back after
each call."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from asgiref.sync import sync_to_async
from django.db import connection

from foundation.request_threads import request_threads

FAILSAFE = 10.0


def until(predicate, what: str) -> None:
    deadline = time.monotonic() + FAILSAFE
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


class Calls:
    """Sync calls that wait for ``release``, counting how many run at once."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.threads: dict[str, list[int]] = {}

    def call(self, request: str) -> None:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.threads.setdefault(request, []).append(threading.get_ident())
        try:
            assert self.release.wait(FAILSAFE)
        finally:
            with self.lock:
                self.running -= 1


def app_of(calls: Calls, slots: int, calls_per_request: int = 1):
    async def app(scope, receive, send):
        for _ in range(calls_per_request):
            await sync_to_async(calls.call)(scope["path"])

    return request_threads(app, slots=slots)


async def serve(app, path: str) -> None:
    await app({"type": "http", "path": path}, None, None)


async def test_no_more_calls_than_slots_run_at_once_and_all_run_in_turn():
    calls = Calls()
    app = app_of(calls, slots=2)
    requests = [asyncio.create_task(serve(app, f"/r{index}")) for index in range(6)]
    await asyncio.to_thread(until, lambda: calls.running == 2, "two calls running")
    await asyncio.sleep(0.2)  # time for a third to start, were the slots not enforced
    calls.release.set()
    await asyncio.wait_for(asyncio.gather(*requests), FAILSAFE)
    assert calls.most == 2
    assert len(calls.threads) == 6


async def test_a_requests_calls_run_on_one_thread_and_threads_are_reused():
    calls = Calls()
    calls.release.set()
    app = app_of(calls, slots=4, calls_per_request=3)
    await serve(app, "/first")
    await serve(app, "/second")
    first, second = calls.threads["/first"], calls.threads["/second"]
    assert len(set(first)) == 1 and len(set(second)) == 1
    assert first[0] == second[0]  # the first request's executor, lent again


async def test_a_request_cancelled_while_waiting_for_a_slot_does_not_hold_the_queue():
    calls = Calls()
    app = app_of(calls, slots=1)
    holder = asyncio.create_task(serve(app, "/holder"))
    await asyncio.to_thread(until, lambda: calls.running == 1, "the holder's call")
    gone = asyncio.create_task(serve(app, "/gone"))
    await asyncio.sleep(0.05)
    gone.cancel()
    follower = asyncio.create_task(serve(app, "/follower"))
    calls.release.set()
    await asyncio.wait_for(asyncio.gather(holder, follower), FAILSAFE)
    # (asgiref may still run the cancelled request's call: sync work is not interrupted)
    assert "/follower" in calls.threads


@pytest.mark.django_db(transaction=True)
async def test_a_pooled_database_connection_goes_back_after_each_call(settings):
    if connection.vendor != "postgresql":
        pytest.skip("the embedded stack's SQLite connections are not pooled")
    seen: list[object] = []

    def use_the_database() -> None:
        seen.append(connection.connection)  # None: this thread holds no connection now
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")

    async def app(scope, receive, send):
        await sync_to_async(use_the_database)()
        await sync_to_async(use_the_database)()

    await request_threads(app, slots=1)({"type": "http", "path": "/"}, None, None)
    assert seen == [None, None]
