"""Rate limits per principal, as DRF throttles with their counters in the Django cache.

With ``REDIS_URL`` set the cache is Redis, so every daphne process shares one count. A
window opens at a principal's first request and lasts the rate's period; counting is an
atomic increment (no read-modify-write race between processes, unlike DRF's request
history), and ``Retry-After`` says when the window ends. A session client's calls count
against the session's starter. Rates are DRF's notation (``"60/min"``), read by DRF's own
parser, or the ``(count, seconds)`` pair the settings' ``env_rate`` already parsed.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import SimpleRateThrottle

Rate = str | tuple[int, int]

_CACHE_FORMAT = "throttle:%(scope)s:%(ident)s"


def rate_parse(rate: Rate) -> tuple[int, int]:
    """``(count, seconds)`` of ``rate``: DRF's parser for its notation, a pair as it is."""
    if isinstance(rate, str):
        # parse_rate reads nothing of its instance; DRF's throttles call it from __init__.
        return SimpleRateThrottle.parse_rate(SimpleRateThrottle, rate)
    count, seconds = rate
    return count, seconds


def principal_identity(principal) -> str:
    """Whose count a principal's use goes to: a session client's is its starter's."""
    return getattr(principal, "on_behalf_of", "") or principal.id


def throttle_identity(request) -> str:
    principal = request.user
    if principal is None:
        return f"ip:{request.META.get('REMOTE_ADDR', '')}"
    return principal_identity(principal)


def _window_take(base: str, count: int, seconds: int) -> float | None:
    if hasattr(cache, "count_in_window"):  # Redis: one round trip (foundation.cache)
        used, left = cache.count_in_window(f"{base}:count", seconds)
        return None if used <= count else max(1.0, left)
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


def rate_take(scope: str, identity: str, rate: Rate) -> float | None:
    """Count one use of ``scope`` by ``identity`` against ``rate``: None if it is allowed,
    else the seconds until the window ends (at least 1). For callers outside DRF, such as
    WebSocket consumers."""
    key = _CACHE_FORMAT % {"scope": scope, "ident": identity}
    return _window_take(key, *rate_parse(rate))


class PrincipalRateThrottle(SimpleRateThrottle):
    """Subclasses name a ``scope`` and the setting that holds its rate (read per request,
    as DRF makes a throttle per request)."""

    cache_format = _CACHE_FORMAT
    rate_setting: str = ""

    def get_rate(self) -> Rate:
        return getattr(settings, self.rate_setting)

    def parse_rate(self, rate: Rate) -> tuple[int, int]:
        return rate_parse(rate)

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": throttle_identity(request)}

    def allow_request(self, request, view) -> bool:
        key = self.get_cache_key(request, view)
        self._wait = _window_take(key, self.num_requests, self.duration)
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
