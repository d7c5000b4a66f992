"""Rate limits on session starts and tool calls: per principal, 429 with Retry-After."""

from __future__ import annotations

import pytest
import redis
from django.core.cache import cache
from rest_framework.test import APIClient

from tests.sessions_app.helpers import session_world, start

pytestmark = pytest.mark.django_db

HOUR = 3600


def clear_counters(redis_url: str) -> None:
    """Counters outlive a test (and, on Redis, the run); key ids are reused."""
    if not redis_url:
        cache.clear()
        return
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match="*throttle:*"):
        client.delete(key)


@pytest.fixture
def world(admin, settings):
    clear_counters(settings.REDIS_URL)
    session_world(admin.client(), transport="websocket")


def tool(client, sid: str):
    url = f"/api/v1/session-instances/{sid}/tools/resolve_voice_turn"
    return client.post(url, {}, format="json")


def assert_rate_limited(response) -> None:
    assert response.status_code == 429, response.content
    body = response.json()
    assert body["error"] == "rate_limited"
    assert "retry in" in body["message"]
    assert 0 < int(response["Retry-After"]) <= HOUR


def test_session_starts_are_limited_per_caller(world, alice, make_caller, settings):
    settings.AGENTFIELD_SESSION_START_RATE = (2, HOUR)
    assert start(alice.client()).status_code == 201
    assert start(alice.client()).status_code == 201
    assert_rate_limited(start(alice.client()))
    other = make_caller("caller", tags=["team:a"], name="alice's colleague")
    assert start(other.client()).status_code == 201  # counted apart


def test_tool_calls_are_limited_and_a_client_secret_counts_as_the_starter(world, alice, settings):
    settings.AGENTFIELD_TOOL_CALL_RATE = (3, HOUR)
    started = start(alice.client()).json()
    sid = started["session_id"]
    secret_client = APIClient()
    secret_client.credentials(HTTP_AUTHORIZATION=f"Bearer {started['client_secret']['value']}")
    assert tool(alice.client(), sid).status_code == 202
    assert tool(secret_client, sid).status_code == 202
    second = start(alice.client()).json()["session_id"]
    assert tool(alice.client(), second).status_code == 202  # the limit is the caller's
    assert_rate_limited(tool(secret_client, sid))
    assert_rate_limited(tool(alice.client(), second))


def test_the_limits_are_separate_and_other_routes_are_not_limited(world, alice, settings):
    settings.AGENTFIELD_SESSION_START_RATE = (1, HOUR)
    settings.AGENTFIELD_TOOL_CALL_RATE = (1, HOUR)
    sid = start(alice.client()).json()["session_id"]
    assert tool(alice.client(), sid).status_code == 202
    assert_rate_limited(start(alice.client()))
    for _ in range(3):
        assert alice.client().get(f"/api/v1/session-instances/{sid}").status_code == 200


def test_a_new_window_opens_when_the_period_is_over(world, alice, settings, monkeypatch):
    if settings.REDIS_URL:
        pytest.skip("on Redis the window is the key's own expiry: the next test")
    import foundation.throttling as throttling

    settings.AGENTFIELD_SESSION_START_RATE = (1, 60)
    clock = [1_000_000.0]
    monkeypatch.setattr(throttling.time, "time", lambda: clock[0])
    assert start(alice.client()).status_code == 201
    limited = start(alice.client())
    assert_rate_limited(limited)
    assert limited["Retry-After"] == "60"
    clock[0] += 30
    assert start(alice.client())["Retry-After"] == "30"
    clock[0] += 31
    assert start(alice.client()).status_code == 201


def test_on_redis_the_window_is_one_key_whose_expiry_says_retry_after(world, alice, settings):
    if not settings.REDIS_URL:
        pytest.skip("the Redis cache's window counter")
    settings.AGENTFIELD_SESSION_START_RATE = (1, 60)
    assert start(alice.client()).status_code == 201
    limited = start(alice.client())
    assert_rate_limited(limited)
    assert limited["Retry-After"] == "60"
    client = redis.Redis.from_url(settings.REDIS_URL)
    [key] = client.keys(f"*throttle:session_start:key:{alice.key.pk}:count")
    assert int(client.get(key)) == 2  # one counter, one increment per start, in one key
    client.pexpire(key, 30_000)  # 30 s of the window left
    assert start(alice.client())["Retry-After"] == "30"
    client.delete(key)  # the window is over
    assert start(alice.client()).status_code == 201


def test_a_rate_in_drfs_notation_limits_as_its_pair_does(world, alice, settings):
    settings.AGENTFIELD_SESSION_START_RATE = "1/hour"
    assert start(alice.client()).status_code == 201
    limited = start(alice.client())
    assert_rate_limited(limited)
    assert 3590 <= int(limited["Retry-After"]) <= HOUR
