"""Process-local cache of the reads every access decision repeats (targets, policies).

Entries live under the current ``AccessVersion`` token, which database triggers replace on
any change to the tables behind them (decision 0014). Each use reads the token (one
single-row query) instead of the data (a join, or every policy): a change is seen by the
very next decision in every process, as without the cache. No token row (a flushed test
database, an unsupported vendor) means no caching.

Cached values are shared between threads: callers must not modify them.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

from django.db import connection

from access_app.models import AccessVersion

T = TypeVar("T")
MAX_ENTRIES = 10_000

_TOKEN_SQL = f"SELECT token FROM {AccessVersion._meta.db_table} WHERE id = 1"
# (token, entries), swapped as one object so no thread sees one token with another's entries.
_state: tuple[str | None, dict[Hashable, object]] = (None, {})
_pinned: ContextVar[str | None] = ContextVar("access_version_pinned", default=None)


def access_version() -> str | None:
    with connection.cursor() as cursor:
        cursor.execute(_TOKEN_SQL)
        row = cursor.fetchone()
    return row[0] if row else None


@contextmanager
def one_version() -> Iterator[None]:
    """The reads inside share one token read: one decision, one version of the access data.
    For one decision only: a longer block would see changes late."""
    pin = _pinned.set(access_version())
    try:
        yield
    finally:
        _pinned.reset(pin)


def cached_read(key: Hashable, load: Callable[[], T]) -> T:
    """``load()``'s value for ``key`` under the current token; loaded after the token is
    read, so an entry is never older than the token it is filed under."""
    global _state
    token = _pinned.get() or access_version()
    if token is None:
        return load()
    cached_token, entries = _state
    if token != cached_token:
        entries = {}
        _state = (token, entries)
    if key in entries:
        return entries[key]  # type: ignore[return-value]
    value = load()
    if len(entries) < MAX_ENTRIES:
        entries[key] = value
    return value
