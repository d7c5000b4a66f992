"""``GET /healthz``: is the database, the channel layer and the broker reachable?

An async view: the three checks run at once (probes arriving while a round runs share
it), the database's in one thread hop, Redis (the channel layer's and the broker's, with
``REDIS_URL``) pinged from the event loop over one connection pool per process and loop.
A probe costs about what an authenticated ``GET /api/v1/me`` costs. Without Redis, the
in-memory channel layer takes a message round trip and the embedded broker's SQLite file
is opened, in the same hop.
"""

from __future__ import annotations

import asyncio
import time
import uuid
import weakref
from collections.abc import Awaitable, Callable

from asgiref.sync import sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from redis.asyncio import BlockingConnectionPool, Redis

from agentfield_site.celery import app as celery_app

CHECK_TIMEOUT = 2.0
# Probes share a few connections (a PING is short); more at once wait for one.
REDIS_CONNECTIONS = 8

# One client per Redis URL and event loop: a redis.asyncio pool belongs to its loop.
_redis_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Redis]] = (
    weakref.WeakKeyDictionary()
)


def _redis(url: str) -> Redis:
    clients = _redis_by_loop.setdefault(asyncio.get_running_loop(), {})
    if url not in clients:
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=REDIS_CONNECTIONS,
            timeout=CHECK_TIMEOUT,
            socket_connect_timeout=CHECK_TIMEOUT,
        )
        clients[url] = Redis(connection_pool=pool)
    return clients[url]


def _is_redis(url: str) -> bool:
    return url.startswith(("redis://", "rediss://"))


def check_database() -> None:
    """On a thread of the loop's own pool, not in the request's turn for a slot
    (``foundation.request_threads``): a busy server is not an unreachable database."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        if not connection.in_atomic_block:
            connection.close()  # back to the pool; the thread is not a request's


async def check_channel_layer() -> None:
    layer = get_channel_layer()
    if isinstance(layer, InMemoryChannelLayer):
        channel = await layer.new_channel("healthz.")
        token = uuid.uuid4().hex
        await layer.send(channel, {"type": "healthz", "token": token})
        if (await layer.receive(channel)).get("token") != token:
            raise RuntimeError("channel layer returned another message")
        return
    # A Redis layer (channels_redis): each configured host answers a PING.
    for host in settings.CHANNEL_LAYERS["default"].get("CONFIG", {}).get("hosts", []):
        await _redis(host if isinstance(host, str) else host["address"]).ping()


def _check_broker_blocking() -> None:
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(
            max_retries=1, interval_start=0, interval_step=0, timeout=CHECK_TIMEOUT
        )


async def check_broker() -> None:
    url = celery_app.conf.broker_url
    if _is_redis(url):
        await _redis(url).ping()
    else:
        await sync_to_async(_check_broker_blocking)()


CHECKS: dict[str, Callable[[], Awaitable[None]]] = {
    "database": sync_to_async(check_database, thread_sensitive=False),
    "channel_layer": check_channel_layer,
    "broker": check_broker,
}


async def _timed(check: Callable[[], Awaitable[None]]) -> dict[str, object]:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(check(), CHECK_TIMEOUT)
    except Exception as exc:  # any failure means "not reachable"; say which kind
        result: dict[str, object] = {"ok": False, "error": type(exc).__name__}
    else:
        result = {"ok": True}
    result["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


# The round of checks in flight in each event loop: probes that arrive meanwhile share its
# outcome instead of starting their own (hundreds at once would otherwise queue for the
# same few connections and time out). No outcome is older than the probe's arrival minus
# one round.
_rounds_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Future] = (
    weakref.WeakKeyDictionary()
)


async def _one_round() -> dict[str, dict[str, object]]:
    results = await asyncio.gather(*(_timed(check) for check in CHECKS.values()))
    return dict(zip(CHECKS, results, strict=True))


async def run_checks() -> dict[str, dict[str, object]]:
    loop = asyncio.get_running_loop()
    round_ = _rounds_by_loop.get(loop)
    if round_ is None:
        round_ = _rounds_by_loop[loop] = loop.create_task(_one_round())
        round_.add_done_callback(lambda done: _rounds_by_loop.pop(loop, None))
    return dict(await asyncio.shield(round_))


@never_cache
@require_GET
async def healthz(request):
    checks = await run_checks()
    healthy = all(result["ok"] for result in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks},
        status=200 if healthy else 503,
    )
