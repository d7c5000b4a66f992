"""The Redis cache backend, one client per process, with a window counter in one round trip.

Django builds a cache object per thread, and its Redis backend a connection pool per
object: under daphne, where requests run on many threads, a request could open a new
Redis connection just to count a rate limit. Here every thread of a process shares one
client, pool and ``redis.Redis`` (all thread-safe). ``count_in_window`` is what the rate
limits need, as one ``MULTI``/``EXEC``: open the window's counter if absent, count, read
its time left.
"""

from __future__ import annotations

import threading

from django.core.cache.backends.redis import RedisCache, RedisCacheClient

_clients: dict[tuple[str, ...], RedisCacheClient] = {}
_clients_lock = threading.Lock()


class _SharedClients(RedisCacheClient):
    """Django's client makes a ``redis.Redis`` per command (about 170 reply callbacks
    registered each time); one per pool serves every thread."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._redis_by_pool: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._redis_by_pool.get(id(pool))
        if client is None:
            client = self._redis_by_pool.setdefault(id(pool), self._client(connection_pool=pool))
        return client


class ProcessRedisCache(RedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = _SharedClients

    @property
    def _cache(self) -> RedisCacheClient:
        key = (*self._servers, repr(sorted(self._options.items())))
        client = _clients.get(key)
        if client is None:
            with _clients_lock:
                client = _clients.setdefault(key, self._class(self._servers, **self._options))
        return client

    def count_in_window(self, key: str, seconds: int) -> tuple[int, float]:
        """Count one use under ``key``, whose window opens at its first use and lasts
        ``seconds``: the uses so far in this window, and the seconds until it ends."""
        key = self.make_and_validate_key(key)
        with self._cache.get_client(key, write=True).pipeline(transaction=True) as pipe:
            pipe.set(key, 0, ex=seconds, nx=True)
            pipe.incr(key)
            pipe.pttl(key)
            _, used, left_ms = pipe.execute()
        return int(used), max(0, left_ms) / 1000
