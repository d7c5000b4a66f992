"""``GET /api/v1/session-targets/<node>.<session>/preflight``: may this caller start it now,
and if not, why and whom to ask; scoped like the start route."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from access_app.models import AccessPolicy, AgentNode, CallerProfile
from access_app.services.nodes import node_shutdown
from tests.sessions_app.helpers import (
    VOICE_NODE,
    register_voice_node,
    session_world,
    start,
    unmasked,
)

pytestmark = pytest.mark.django_db

TARGET = f"{VOICE_NODE}.voice"
URL = f"/api/v1/session-targets/{TARGET}/preflight"


def pending_world(admin_client) -> None:
    """The voice node registered, its tags waiting; a policy lets team:a start it."""
    register_voice_node(admin_client, approve=False)
    AccessPolicy.objects.create(
        name="team-a-starts-voice",
        caller_tags=["team:a"],
        target_tags=["support:voice"],
        action="allow",
    )


def test_a_caller_who_may_start_it_is_told_so(admin, alice, simulator):
    session_world(admin.client())
    body = alice.client().get(URL).json()
    assert body == {
        "target": TARGET,
        "startable": True,
        "reason": None,
        "message": None,
        "hint": None,
        "ask": None,
        "error": None,
        "pending_tags": [],
        "approvals_url": None,
    }
    assert start(alice.client()).status_code == 201  # and the start agrees


def test_pending_tags_say_which_and_whom_to_ask(admin, alice, simulator):
    pending_world(admin.client())
    response = alice.client().get(URL)
    assert response.status_code == 200
    body = response.json()
    assert body["startable"] is False
    assert body["reason"] == "tags_pending"
    assert body["error"] == "agent_pending_approval"  # what the start route answers
    assert body["pending_tags"] == ["pii:limited", "support:voice"]
    assert body["ask"] == "admin"
    assert body["approvals_url"] == "/access/approvals/"
    assert body["hint"] == (
        "Ask an admin to approve the tags pii:limited, support:voice on the Approvals page."
    )
    assert start(alice.client()).json()["error"] == "agent_pending_approval"
    # an admin is told to approve them, not to ask an admin
    assert admin.client().get(URL).json()["hint"].startswith("Approve the tags pii:limited")


def test_another_caller_gets_the_404_of_a_target_that_does_not_exist(admin, bob, simulator):
    pending_world(admin.client())
    missing = bob.client().get("/api/v1/session-targets/nope.voice/preflight")
    pending = bob.client().get(URL)
    assert missing.status_code == pending.status_code == 404
    assert pending.json() == missing.json() == {"error": "session not registered"}
    AccessPolicy.objects.all().delete()
    session_world(admin.client())  # approved now: still not bob's
    assert bob.client().get(URL).json() == {"error": "session not registered"}


def test_anonymous_is_401(anon, admin):
    session_world(admin.client())
    response = anon.get(URL)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"


def test_it_takes_no_query_parameters(admin, alice, simulator):
    session_world(admin.client())
    response = alice.client().get(URL + "?force=1")
    assert response.status_code == 400
    assert response.json()["fields"] == {"force": ["unknown field"]}


def test_a_missing_provider_key_is_the_operators_to_fix(admin, alice, settings):
    session_world(admin.client())
    settings.OPENAI_API_KEY = ""
    body = alice.client().get(URL).json()
    assert (body["startable"], body["reason"], body["ask"]) == (
        False,
        "provider_not_configured",
        "operator",
    )
    assert body["message"] == "OPENAI_API_KEY is required for provider=openai"


def test_a_handler_that_is_not_connected(admin, alice, simulator):
    session_world(admin.client(), handler=True)
    body = alice.client().get(URL).json()
    assert (body["reason"], body["ask"]) == ("handler_not_connected", "node_operator")
    assert body["hint"] == f"Ask whoever runs agent node {VOICE_NODE} to start it."


def test_a_node_that_reported_itself_offline(admin, alice, simulator):
    session_world(admin.client())
    node_shutdown(node=AgentNode.objects.get(node_id=VOICE_NODE))
    body = alice.client().get(URL).json()
    assert (body["startable"], body["reason"]) == (False, "node_offline")
    assert body["message"] == f"agent node {VOICE_NODE} is offline"


def test_the_live_session_cap(admin, alice, simulator, settings):
    session_world(admin.client())
    settings.AGENTFIELD_MAX_LIVE_SESSIONS_PER_CALLER = 1
    assert start(alice.client()).status_code == 201
    body = alice.client().get(URL).json()
    assert (body["reason"], body["error"]) == ("too_many_live_sessions", "too_many_live_sessions")
    assert body["hint"] == "End one of your live calls first."


def logged_in(username: str, tags: list[str]) -> Client:
    user = get_user_model().objects.create_user(username, password="pw-12345678")
    CallerProfile.objects.create(user=user, tags=tags)
    client = Client()
    client.force_login(user)
    return client


def test_the_voice_page_of_a_target_waiting_for_approval(admin):
    """Shown (it says why before asking for the microphone) to a caller the policies would
    let start it; the same 404 as an unknown target to anyone else."""
    pending_world(admin.client())
    carol = logged_in("carol", ["team:a"])
    page = carol.get(f"/sessions/{TARGET}/")
    assert page.status_code == 200
    assert f'"preflight_url": "/api/v1/session-targets/{TARGET}/preflight"' in page.content.decode()
    assert carol.get(f"/api/v1/session-targets/{TARGET}/preflight").json()["reason"] == (
        "tags_pending"
    )  # the browser login is enough for the route
    dave = logged_in("dave", ["team:z"])
    forbidden, missing = dave.get(f"/sessions/{TARGET}/"), dave.get("/sessions/nope.voice/")
    assert forbidden.status_code == missing.status_code == 404
    assert unmasked(forbidden.content) == unmasked(missing.content)
    assert dave.get(f"/api/v1/session-targets/{TARGET}/preflight").status_code == 404
