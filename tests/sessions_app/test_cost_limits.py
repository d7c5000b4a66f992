"""Limits that bound what one caller can cost: live sessions at once, and rates of WebRTC
offers, realtime WebSocket connects and audio turns (decision 0017). Each answers 429
with ``Retry-After`` (the WebSocket: its ``error`` event and close code 4429)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.db import close_old_connections
from django.utils import timezone
from rest_framework.test import APIClient

from sessions_app.models import SessionInstance
from tests.access_app.test_throttling import HOUR, assert_rate_limited, clear_counters
from tests.sessions_app.helpers import session_world, start
from tests.sessions_app.realtime_client import RealtimeClient

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def world(admin, settings, simulator):
    clear_counters(settings.REDIS_URL)
    session_world(admin.client(), transport="websocket")


def secret_client(started: dict) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {started['client_secret']['value']}")
    return client


def assert_too_many_live(response, cap: int) -> None:
    assert response.status_code == 429, response.content
    assert response.json() == {
        "error": "too_many_live_sessions",
        "message": f"a caller may have at most {cap} live sessions; end one first",
        "limit": cap,
    }
    assert 0 < int(response["Retry-After"]) <= 300  # the soonest connect deadline


def test_live_sessions_are_capped_per_caller_and_a_slot_frees_when_one_ends(
    world, alice, make_caller, settings
):
    settings.AGENTFIELD_MAX_LIVE_SESSIONS_PER_CALLER = 2
    first = start(alice.client()).json()
    assert start(alice.client()).status_code == 201
    assert_too_many_live(start(alice.client()), 2)
    other = make_caller("caller", tags=["team:a"], name="alice's colleague")
    assert start(other.client()).status_code == 201  # counted apart
    ended = alice.client().post(
        f"/api/v1/session-instances/{first['session_id']}/end", {}, format="json"
    )
    assert ended.status_code == 200
    assert start(alice.client()).status_code == 201
    assert_too_many_live(start(alice.client()), 2)
    assert SessionInstance.objects.filter(owner=f"key:{alice.key.pk}").count() == 3


def test_a_session_past_its_deadline_holds_no_slot_before_the_sweep(world, alice, settings):
    settings.AGENTFIELD_MAX_LIVE_SESSIONS_PER_CALLER = 1
    sid = start(alice.client()).json()["session_id"]
    assert_too_many_live(start(alice.client()), 1)
    SessionInstance.objects.filter(session_id=sid).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert start(alice.client()).status_code == 201


def test_starts_at_once_cannot_both_take_the_last_slot(world, alice, settings):
    settings.AGENTFIELD_MAX_LIVE_SESSIONS_PER_CALLER = 1
    statuses: list[int] = []
    gate = threading.Barrier(6)

    def one() -> None:
        try:
            gate.wait()
            statuses.append(start(alice.client()).status_code)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=one) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201] + [429] * 5
    assert SessionInstance.objects.count() == 1


def test_webrtc_offers_are_rate_limited_and_a_client_secret_counts_as_the_starter(
    admin, alice, settings, simulator
):
    clear_counters(settings.REDIS_URL)
    session_world(admin.client())  # transport webrtc
    settings.AGENTFIELD_WEBRTC_OFFER_RATE = (2, HOUR)
    started = start(alice.client()).json()
    url = f"/api/v1/session-instances/{started['session_id']}/realtime-offer"
    for client in (alice.client(), secret_client(started)):
        response = client.post(url, "not sdp", content_type="application/sdp")
        assert response.status_code == 400, response.content  # checked, and counted
    assert_rate_limited(alice.client().post(url, "not sdp", content_type="application/sdp"))
    assert_rate_limited(secret_client(started).post(url, "v=0", content_type="application/sdp"))


def test_audio_turns_are_rate_limited_per_caller(world, alice, settings):
    settings.AGENTFIELD_AUDIO_TURN_RATE = (2, HOUR)
    started = start(alice.client()).json()
    url = f"/api/v1/session-instances/{started['session_id']}/turns"
    for client in (alice.client(), secret_client(started)):
        response = client.post(url, {"text": "hi"}, format="json")
        assert response.status_code == 400  # a websocket session: checked, and counted
    assert_rate_limited(alice.client().post(url, {"text": "hi"}, format="json"))
    assert_rate_limited(secret_client(started).post(url, {"text": "hi"}, format="json"))


async def test_realtime_connects_are_rate_limited_with_a_4429_refusal(world, alice, bob, settings):
    settings.AGENTFIELD_REALTIME_CONNECT_RATE = (1, HOUR)
    first, second = [
        (await database_sync_to_async(start)(alice.client())).json()["session_id"] for _ in range(2)
    ]
    key = [(b"x-api-key", alice.secret.encode())]
    call = RealtimeClient(first, headers=key)
    await call.connect()
    await call.until("agentfield.session.active")
    await call.close()
    refused = RealtimeClient(second, headers=key)
    await refused.connect()
    error = (await refused.until("error"))["error"]
    assert (error["code"], error["status"]) == ("rate_limited", 429)
    assert 0 < error["retry_after"] <= HOUR
    assert await refused.closed_code() == 4429
    row = await database_sync_to_async(SessionInstance.objects.get)(session_id=second)
    assert row.status == "created"  # never claimed
    other = RealtimeClient(second, headers=[(b"x-api-key", bob.secret.encode())])
    await other.connect()  # another caller's count: bob gets the usual 404
    assert (await other.until("error"))["error"]["code"] == "not_found"
    await other.close()
