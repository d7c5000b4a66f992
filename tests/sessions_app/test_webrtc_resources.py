"""Fifty calls opened and closed leave nothing behind: tasks, sockets, memory, runtimes."""

from __future__ import annotations

import asyncio
import gc
import os
import time

import pytest
from aiortc import RTCPeerConnection
from channels.db import database_sync_to_async

from sessions_app.runtime.session import SessionRuntime
from sessions_app.transports.webrtc import WebRTCCall
from tests.sessions_app.helpers import session_world, start
from tests.sessions_app.rows import finished_row
from tests.sessions_app.webrtc_calls import open_call

pytestmark = [pytest.mark.django_db(transaction=True)]

CALLS = 50
WARM_UP = 10  # thread pools and allocator arenas grow to their working size first
RSS_NOISE_MB = 5.0
SETTLE_TIMEOUT = 10.0


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def alive(kind: type) -> int:
    # type(), not isinstance(): the latter dereferences weak proxies other tests left dead
    return sum(issubclass(type(o), kind) for o in gc.get_objects())


async def settled() -> tuple[int, int, float]:
    """Tasks, descriptors and RSS once every task the finished calls left has run to its
    end (peers closing, runtimes ending) and their garbage is collected. A task that never
    ends is waited for up to ``SETTLE_TIMEOUT``, then counted."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while others := asyncio.all_tasks() - {asyncio.current_task()}:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        await asyncio.wait(others, timeout=remaining)
    await asyncio.sleep(0)  # the callbacks those tasks scheduled last (sockets closing)
    gc.collect()
    return len(asyncio.all_tasks()), open_fds(), rss_mb()


async def one_call(alice, index: int) -> None:
    sid = (await database_sync_to_async(start)(alice.client())).json()["session_id"]
    peer = await open_call(sid, caller=alice)
    await peer.until("session.active")
    await peer.until_frames(5)  # audio flows both ways meanwhile (silence)
    if index % 2:
        peer.send({"type": "end"})  # the browser asks to end it
        await peer.until("session.ended")
    await peer.close()  # or just hangs up
    row = await finished_row(sid)
    assert row.status == "ended", row.end_reason


async def test_fifty_calls_leave_no_tasks_sockets_memory_or_runtimes(alice, admin, simulator):
    await database_sync_to_async(session_world)(admin.client())
    for index in range(WARM_UP):
        await one_call(alice, index)
    tasks, fds, rss = await settled()
    for index in range(CALLS):
        await one_call(alice, index)
        if index % 10 == 9:
            # HTTP requests, Django and aiortc leave reference cycles that only the cyclic
            # collector frees; without these runs the RSS rises until its next full pass
            await settled()
    after_tasks, after_fds, after_rss = await settled()
    assert [alive(kind) for kind in (WebRTCCall, SessionRuntime, RTCPeerConnection)] == [0, 0, 0]
    assert after_tasks <= tasks, [t.get_name() for t in asyncio.all_tasks()]
    assert after_fds <= fds, os.listdir("/proc/self/fd")
    assert after_rss - rss < RSS_NOISE_MB, f"RSS grew {after_rss - rss:.1f} MiB over {CALLS} calls"
