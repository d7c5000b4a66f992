"""The state machine, the expiry sweep (as the beat task runs it) and tool results."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from foundation.errors import ApiError
from sessions_app.models import SessionInstance
from sessions_app.services.lifecycle import (
    session_activate,
    session_connect,
    session_finish,
)
from sessions_app.tasks import expire_sessions
from tests import agent_double as behaviours
from tests.executions_app.helpers import wait_until
from tests.sessions_app.helpers import session_world, start

pytestmark = pytest.mark.django_db


@pytest.fixture
def started(alice, admin):
    session_world(admin.client(), transport="websocket")
    body = start(alice.client()).json()
    return SessionInstance.objects.get(session_id=body["session_id"])


def events(session):
    return [e.type for e in session.events.order_by("id")]


def test_it_moves_created_connecting_active_ended(started):
    session_connect(started)
    assert started.status == "connecting"
    assert session_activate(started)
    started.refresh_from_db()
    assert started.status == "active" and started.connected_at
    max_seconds = settings.AGENTFIELD_SESSION_MAX_SECONDS
    assert started.expires_at - started.connected_at == timedelta(seconds=max_seconds)
    assert session_finish(started, reason="caller hung up")
    assert not session_finish(started, status="failed", reason="late")  # only once
    assert (started.status, started.end_reason) == ("ended", "caller hung up")
    assert events(started) == [
        "session.created",
        "session.connecting",
        "session.active",
        "session.ended",
    ]


def test_a_second_connection_is_409_and_a_finished_session_410(started):
    session_connect(started)
    with pytest.raises(ApiError) as second:
        session_connect(started)
    assert second.value.status_code == 409
    assert second.value.body == {"error": f"session {started.session_id} is already connected"}
    session_finish(started, status="failed", reason="provider dropped")
    with pytest.raises(ApiError) as gone:
        session_connect(started)
    assert gone.value.status_code == 410
    assert gone.value.body == {"error": f"session {started.session_id} is failed"}


def test_the_sweep_expires_unconnected_sessions_after_the_connect_ttl(started):
    assert expire_sessions() == {"expired": 0, "ended": 0, "failed": 0}
    SessionInstance.objects.filter(pk=started.pk).update(expires_at=timezone.now())
    assert expire_sessions()["expired"] == 1
    started.refresh_from_db()
    assert started.status == "expired"
    assert started.end_reason == "not connected within the connect TTL"
    assert events(started)[-1] == "session.expired"


def test_the_sweep_ends_a_call_at_its_maximum_duration(started):
    session_connect(started)
    session_activate(started)
    SessionInstance.objects.filter(pk=started.pk).update(expires_at=timezone.now())
    assert expire_sessions()["ended"] == 1
    started.refresh_from_db()
    assert (started.status, started.end_reason) == ("ended", "maximum session duration reached")


def test_the_sweep_fails_a_call_whose_process_stopped_answering(started):
    session_connect(started)
    session_activate(started)
    stale = timezone.now() - timedelta(minutes=2)
    SessionInstance.objects.filter(pk=started.pk).update(last_seen_at=stale)
    assert expire_sessions()["failed"] == 1
    started.refresh_from_db()
    assert started.status == "failed"
    assert "stopped answering" in started.end_reason


def test_the_sweep_runs_on_the_beat():
    schedule = settings.CELERY_BEAT_SCHEDULE["expire-sessions"]
    assert schedule["task"] == expire_sessions.name


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("worker")
def test_a_tool_result_is_logged_when_the_execution_ends(alice, admin, agent_double):
    agent_double.behaviours["resolve_voice_turn"] = behaviours.echo
    session_world(admin.client(), agent_double.base_url, transport="websocket")
    sid = start(alice.client()).json()["session_id"]
    response = alice.client().post(
        f"/api/v1/session-instances/{sid}/tools/resolve_voice_turn",
        {"input": {"turn": "hello"}},
        format="json",
    )
    execution_id = response.json()["execution_id"]
    session = SessionInstance.objects.get(session_id=sid)
    result = wait_until(
        lambda: session.events.filter(type="tool.result").first(), what="tool.result"
    )
    assert result.execution_id == execution_id
    assert result.data["status"] == "succeeded"
    assert result.data["tool"] == "resolve_voice_turn"
    assert agent_double.calls[0].headers["X-Session-ID"] == sid
