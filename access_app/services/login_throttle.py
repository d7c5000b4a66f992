"""Failed password logins, counted in the Django cache; too many and logins are refused.

Two counters, each a window that opens at its first failure and lasts
``AGENTFIELD_LOGIN_LOCKOUT_SECONDS``: one per (user name, client address), limited to
``AGENTFIELD_LOGIN_MAX_FAILURES``, and one per client address over every user name,
limited to ``AGENTFIELD_LOGIN_MAX_FAILURES_PER_ADDRESS`` (one address trying many names).
A refused attempt is refused even with the right password, and counts as a failure; a
success clears its own (name, address) counter. Keyed on the address as well as the name,
a stranger cannot lock an admin out from elsewhere. With ``REDIS_URL`` every process shares
the counts (decision 0018).
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache


def client_address(request) -> str:
    return (request.META.get("REMOTE_ADDR") if request is not None else "") or "unknown"


def _keys(username: str, address: str) -> tuple[str, str]:
    # Hashed: user names are arbitrary text, cache keys must stay short and plain.
    name = hashlib.sha256(username.strip().casefold().encode()).hexdigest()[:32]
    where = hashlib.sha256(address.encode()).hexdigest()[:32]
    return f"login-failures:name:{name}:{where}", f"login-failures:address:{where}"


def login_refused(username: str, address: str) -> bool:
    """Whether logins as ``username`` from ``address`` are refused for now."""
    pair, anywhere = _keys(username or "", address)
    counts = cache.get_many([pair, anywhere])
    return (
        counts.get(pair, 0) >= settings.AGENTFIELD_LOGIN_MAX_FAILURES
        or counts.get(anywhere, 0) >= settings.AGENTFIELD_LOGIN_MAX_FAILURES_PER_ADDRESS
    )


def _count(key: str, seconds: int) -> None:
    cache.add(key, 0, timeout=seconds)
    try:
        cache.incr(key)
    except ValueError:  # the window ended between add and incr
        cache.set(key, 1, timeout=seconds)


def login_failure_record(username: str, address: str) -> None:
    for key in _keys(username or "", address):
        _count(key, settings.AGENTFIELD_LOGIN_LOCKOUT_SECONDS)


def login_success_record(username: str, address: str) -> None:
    cache.delete(_keys(username or "", address)[0])


def refused_message() -> str:
    minutes = max(1, round(settings.AGENTFIELD_LOGIN_LOCKOUT_SECONDS / 60))
    return (
        "Too many failed logins for this account from your address. "
        f"Try again in {minutes} minute{'s' if minutes != 1 else ''}."
    )
