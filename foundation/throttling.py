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


def principal_identity(principal) -> str:
    """Whose count a principal's use goes to: a session client's is its starter's."""
    return getattr(principal, "on_behalf_of", "") or principal.id


def throttle_identity(request) -> str:
    principal = request.user
    if principal is None:
        return f"ip:{request.META.get('REMOTE_ADDR', '')}"
    return principal_identity(principal)


def rate_take(scope: str, identity: str, rate: tuple[int, int]) -> float | None:
    """Count one use of ``scope`` by ``identity`` against ``rate`` (count, seconds): None
    if it is allowed, else the seconds until the window ends (at least 1). For callers
    outside DRF, such as WebSocket consumers."""
    count, seconds = rate
    base = f"throttle:{scope}:{identity}"
    now = time.time()
    cache.add(f"{base}:start", now, timeout=seconds)
    cache.add(f"{base}:count", 0, timeout=seconds)
    try:
        used = cache.incr(f"{base}:count")
    except ValueError:  # the window ended between add and incr
        cache.set(f"{base}:count", 1, timeout=seconds)
        used = 1
    if used <= count:
        return None
    started = cache.get(f"{base}:start", now)
    return max(1.0, started + seconds - now)


class PrincipalRateThrottle(BaseThrottle):
    """Subclasses name a ``scope`` and the setting that holds its ``(count, seconds)``."""

    scope: str = ""
    rate_setting: str = ""

    def allow_request(self, request, view) -> bool:
        rate = getattr(settings, self.rate_setting)
        self._wait = rate_take(self.scope, throttle_identity(request), rate)
        return self._wait is None

    def wait(self) -> float | None:
        return self._wait


class SessionStartThrottle(PrincipalRateThrottle):
    scope = "session_start"
    rate_setting = "AGENTFIELD_SESSION_START_RATE"


class ToolCallThrottle(PrincipalRateThrottle):
    scope = "tool_call"
    rate_setting = "AGENTFIELD_TOOL_CALL_RATE"


class WebRTCOfferThrottle(PrincipalRateThrottle):
    scope = "webrtc_offer"
    rate_setting = "AGENTFIELD_WEBRTC_OFFER_RATE"


class AudioTurnThrottle(PrincipalRateThrottle):
    scope = "audio_turn"
    rate_setting = "AGENTFIELD_AUDIO_TURN_RATE"


# The realtime WebSocket's connects are counted by its consumer (``rate_take``).
REALTIME_CONNECT_SCOPE = "realtime_connect"
