"""A session instance carries its definition's media path (issue 19): in the start body,
the detail, the log and the pages; a deployment that turned direct media off since the
definition was approved refuses to start it."""

from __future__ import annotations

import pytest
from django.test import override_settings

from sessions_app.models import SessionEvent, SessionInstance
from tests.sessions_app.helpers import VOICE_NODE, session_world, start
from tests.sessions_app.test_pages import logged_in

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("declared", "media"),
    [({}, "relay"), ({"media": "direct"}, "direct"), ({"transport": "websocket"}, "")],
    ids=["relay by default", "direct", "websocket"],
)
def test_the_start_body_and_the_detail_carry_the_media(alice, bob, admin, declared, media):
    session_world(admin.client(), **declared)
    response = start(alice.client())
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["media"] == media
    row = SessionInstance.objects.get(session_id=body["session_id"])
    assert row.media == media
    created = SessionEvent.objects.get(session=row, type="session.created")
    assert created.data["media"] == media
    detail = alice.client().get(body["session_url"])
    assert detail.status_code == 200
    assert (detail.json()["transport"], detail.json()["media"]) == (body["transport"], media)
    assert bob.client().get(body["session_url"]).status_code == 404


def test_a_direct_session_does_not_start_where_direct_media_is_turned_off(alice, admin):
    session_world(admin.client(), media="direct")
    with override_settings(AGENTFIELD_SESSION_MEDIA={"openai": ("relay",)}):
        response = start(alice.client())
    assert response.status_code == 400
    assert response.json()["error"] == (
        "This control plane has direct media turned off. Supported media for provider "
        "'openai': relay. AgentField does not infer media; set media explicitly."
    )
    assert not SessionInstance.objects.exists()
    assert start(alice.client()).json()["media"] == "direct"


@pytest.mark.parametrize("media", ["relay", "direct"])
def test_the_list_and_the_voice_page_show_the_media(admin, media):
    session_world(admin.client(), media=media)
    shown = f'openai · webrtc · <span class="media" data-media="{media}">{media} media</span>'
    carol = logged_in("carol", ["team:a"])
    assert f"<p>{shown} · gpt-realtime-2" in carol.get("/sessions/").content.decode()
    voice = carol.get(f"/sessions/{VOICE_NODE}.voice/").content.decode()
    assert f'<p class="muted">{shown} · gpt-realtime-2 · voice marin' in voice


def test_the_pages_show_no_media_for_other_transports(admin):
    session_world(admin.client(), transport="websocket")
    carol = logged_in("carol", ["team:a"])
    for page in ("/sessions/", f"/sessions/{VOICE_NODE}.voice/"):
        html = carol.get(page).content.decode()
        assert "openai · websocket · gpt-realtime-2" in html
        assert 'class="media"' not in html
