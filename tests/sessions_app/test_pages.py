"""The session pages: startable targets, the voice page's shell, the replay timeline."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from access_app.models import CallerProfile
from executions_app.models import Execution
from sessions_app.models import SessionInstance
from sessions_app.services.events import session_event_append
from tests.sessions_app.helpers import VOICE_NODE, session_world, unmasked

pytestmark = pytest.mark.django_db


def logged_in(username: str, tags: list[str]) -> Client:
    user = get_user_model().objects.create_user(username, password="pw-12345678")
    CallerProfile.objects.create(user=user, tags=tags)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def world(admin):
    session_world(admin.client())


def test_the_pages_need_a_login(world):
    for url in ["/sessions/", f"/sessions/{VOICE_NODE}.voice/", "/session-instances/x/"]:
        response = Client().get(url)
        assert response.status_code == 302 and "login" in response["Location"]


def test_the_list_shows_only_what_the_user_may_start(world):
    carol = logged_in("carol", ["team:a"]).get("/sessions/")
    assert f'data-target="{VOICE_NODE}.voice"' in carol.content.decode()
    dave = logged_in("dave", ["team:z"]).get("/sessions/")
    assert "data-target=" not in dave.content.decode()
    assert "No session target is open to you yet" in dave.content.decode()


def test_the_voice_page_carries_its_configuration(world):
    page = logged_in("carol", ["team:a"]).get(f"/sessions/{VOICE_NODE}.voice/")
    assert page.status_code == 200
    html = page.content.decode()
    config = json.loads(html.split('id="voice-config" type="application/json">')[1].split("<")[0])
    assert config["start_url"] == f"/api/v1/session-targets/{VOICE_NODE}.voice/start"
    slot = config["session_id_slot"]
    assert config["end_url"] == f"/api/v1/session-instances/{slot}/end"
    assert config["replay_url"] == f"/session-instances/{slot}/"
    # the control plane's own peer's policy: loopback only, no ICE server
    assert config["ice"] == {"iceServers": [], "offerHosts": ["127.0.0.1"]}
    assert "js/voice.js" in html and 'id="start"' in html
    assert logged_in("erin", []).get("/sessions/nope.voice/").status_code == 404


def test_the_voice_page_of_a_target_the_user_may_not_start_is_the_same_404(world):
    dave = logged_in("dave", ["team:z"])
    forbidden = dave.get(f"/sessions/{VOICE_NODE}.voice/")
    missing = dave.get("/sessions/nope.voice/")
    assert forbidden.status_code == missing.status_code == 404
    # the same page but for the logout form's CSRF token, masked afresh on every response
    assert unmasked(forbidden.content) == unmasked(missing.content)
    assert "voice-config" not in forbidden.content.decode()


def test_the_voice_page_explains_a_session_it_cannot_call(admin):
    session_world(admin.client(), transport="websocket")
    page = logged_in("carol", ["team:a"]).get(f"/sessions/{VOICE_NODE}.voice/")
    assert 'id="wrong-transport"' in page.content.decode()


def test_the_replay_shows_the_timeline_with_links_to_executions_and_dags(world):
    client = logged_in("carol", ["team:a"])
    start = client.post(
        f"/api/v1/session-targets/{VOICE_NODE}.voice/start",
        "{}",
        content_type="application/json",
    )
    assert start.status_code == 201, start.content
    sid = start.json()["session_id"]
    session = SessionInstance.objects.get(session_id=sid)
    session_event_append(session, "turn.user", {"text": "where is order 42", "audio_ms": 900})
    tool = client.post(
        f"/api/v1/session-instances/{sid}/tools/resolve_voice_turn",
        "{}",
        content_type="application/json",
    )
    execution = Execution.objects.get(execution_id=tool.json()["execution_id"])
    session_event_append(session, "turn.assistant", {"text": "It ships today."})
    page = client.get(f"/session-instances/{sid}/").content.decode()
    assert "where is order 42" in page and "It ships today." in page
    assert execution.execution_id in page
    assert f"/workflows/{execution.workflow_id}/" in page
    assert logged_in("mallory", ["team:a"]).get(f"/session-instances/{sid}/").status_code == 404
