"""Rate limits per principal, as DRF throttles with their counters in the Django cache.

With ``REDIS_URL`` set the cache is Redis, so every daphne process shares one count. A
window opens at a principal's first request and lasts the rate's period; counting is an
atomic increment (no read-modify-write race between processes), and ``Retry-After`` says
when the window ends. A session client's calls count against the session's starter.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle


def throttle_identity(request) -> str:
    principal = request.user
    if principal is None:
        return f"ip:{request.META.get('REMOTE_ADDR', '')}"
    return getattr(principal, "on_behalf_of", "") or principal.id


class PrincipalRateThrottle(BaseThrottle):
    """Subclasses name a ``scope`` and the setting that holds its ``(count, seconds)``."""

    scope: str = ""
    rate_setting: str = ""

    def allow_request(self, request, view) -> bool:
        count, seconds = getattr(settings, self.rate_setting)
        base = f"throttle:{self.scope}:{throttle_identity(request)}"
        now = time.time()
        cache.add(f"{base}:start", now, timeout=seconds)
        cache.add(f"{base}:count", 0, timeout=seconds)
        try:
            used = cache.incr(f"{base}:count")
        except ValueError:  # the window ended between add and incr
            cache.set(f"{base}:count", 1, timeout=seconds)
            used = 1
        started = cache.get(f"{base}:start", now)
        self._wait = max(1.0, started + seconds - now)
        return used <= count

    def wait(self) -> float:
        return self._wait


class SessionStartThrottle(PrincipalRateThrottle):
    scope = "session_start"
    rate_setting = "AGENTFIELD_SESSION_START_RATE"


class ToolCallThrottle(PrincipalRateThrottle):
    scope = "tool_call"
    rate_setting = "AGENTFIELD_TOOL_CALL_RATE"
