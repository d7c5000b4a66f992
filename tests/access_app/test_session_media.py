"""A webrtc session's media path (issue 19): validated at registration with the contract's
messages, ``relay`` by default, part of the session's reach, shown on the approvals page."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import override_settings

from access_app.models import AgentNode, TagDecision, TagStatus, Target
from tests.access_app.harness import NODE, register
from tests.access_app.test_reapproval import approve_all, callable_, session
from tests.agentfield_site.test_env import _settings_subprocess
from tests.factories import node_body, session_def

pytestmark = pytest.mark.django_db

RELAY_ONLY = {"openai": ("relay",)}
CUSTOM_WEBRTC = {"openai": ("webrtc", "websocket"), "custom": ("webrtc",)}


def registered(agent, **session) -> dict:
    response = register(agent, node_body(sessions=[session_def(**session)]))
    assert response.status_code == 201, response.content
    return response.json()


def refused(agent, **session) -> dict:
    """The 400 of a registration whose second session is ``session``; nothing is stored."""
    body = node_body(sessions=[session_def("ok"), session_def(**session)])
    response = register(agent, body)
    assert response.status_code == 400, response.content
    assert not AgentNode.objects.exists()
    return response.json()


@pytest.mark.parametrize(
    ("declared", "stored"),
    [
        ({}, "relay"),
        ({"media": None}, "relay"),
        ({"media": " Relay "}, "relay"),
        ({"media": "DIRECT"}, "direct"),
        ({"transport": "websocket"}, ""),
        ({"transport": "websocket", "media": "relay"}, ""),
        ({"provider": "openrouter", "transport": "audio_turns", "media": ""}, ""),
    ],
)
def test_registration_stores_the_normalized_media_relay_when_absent(agent, declared, stored):
    registered(agent, **declared)
    target = session()
    assert target.definition["media"] == stored
    assert target.reach["media"] == stored


def test_an_unknown_media_is_the_registrations_400_with_the_session_name(agent):
    assert refused(agent, media="p2p") == {
        "error": "Unknown session media 'p2p'. Known media: direct, relay. AgentField does not "
        "infer media; set media explicitly.",
        "session": "voice",
    }


@pytest.mark.parametrize(
    ("provider", "transport"), [("openai", "websocket"), ("openrouter", "audio_turns")]
)
def test_direct_media_off_webrtc_is_a_400(agent, provider, transport):
    assert refused(agent, provider=provider, transport=transport, media="direct") == {
        "error": "Session media applies to transport 'webrtc' only; transport "
        f"'{transport}' always carries its media through the control plane. Leave media out "
        "or set it to relay.",
        "session": "voice",
    }


@override_settings(AGENTFIELD_SESSION_CAPABILITIES=CUSTOM_WEBRTC)
def test_direct_media_for_a_provider_that_relays_only_is_a_400(agent):
    assert refused(agent, provider="custom", media="direct") == {
        "error": "Unsupported session media 'direct' for provider 'custom'. Supported media: "
        "relay. AgentField does not infer media; set media explicitly.",
        "session": "voice",
    }
    assert registered(agent, provider="custom")["status"] == "pending_approval"
    assert session().definition["media"] == "relay"


@override_settings(AGENTFIELD_SESSION_MEDIA=RELAY_ONLY)
def test_a_control_plane_with_direct_media_turned_off_refuses_it_and_relays(agent):
    assert refused(agent, media="direct") == {
        "error": "This control plane has direct media turned off. Supported media for provider "
        "'openai': relay. AgentField does not infer media; set media explicitly.",
        "session": "voice",
    }
    registered(agent)
    assert session().definition["media"] == "relay"


def test_agentfield_webrtc_direct_media_sets_the_media_table():
    code = "from django.conf import settings as s; print(s.AGENTFIELD_SESSION_MEDIA)"
    default = _settings_subprocess({}, code)
    assert default.returncode == 0, default.stderr
    assert default.stdout.strip() == str({"openai": ("direct", "relay")})
    off = _settings_subprocess({"AGENTFIELD_WEBRTC_DIRECT_MEDIA": "false"}, code)
    assert off.returncode == 0, off.stderr
    assert off.stdout.strip() == str(RELAY_ONLY)
    bad = _settings_subprocess({"AGENTFIELD_WEBRTC_DIRECT_MEDIA": "sometimes"}, code)
    assert bad.returncode != 0 and "AGENTFIELD_WEBRTC_DIRECT_MEDIA" in bad.stderr


def test_changing_the_media_puts_the_session_back_for_review_both_ways(agent, admin):
    registered(agent)
    approve_all(admin)
    assert callable_(session())
    for media, back in (("direct", "relay"), ("relay", "direct")):
        data = registered(agent, media=media)
        assert data["status"] == "pending_approval", media
        target = session()
        assert target.definition_status == TagStatus.PENDING
        assert not callable_(target)
        decision = TagDecision.objects.filter(target=target, tag="").first()
        assert decision.reason == "definition changed: media"
        assert target.approved_reach["media"] == back
        approve_all(admin)
        assert callable_(session())
        assert session().approved_reach["media"] == media
    assert registered(agent)["status"] == "ready"  # relay by default: the approved one


def test_the_approvals_page_shows_the_media_and_its_change(agent, admin, client):
    registered(agent)
    approve_all(admin)
    registered(agent, media="direct")
    client.force_login(User.objects.create_superuser("ops", password="pw"))
    page = client.get("/access/approvals/").content.decode()
    assert "a session's tools, handler, provider, transport, media path, model" in page
    media = '<span class="media" data-media="direct">direct media</span>'
    assert f"openai · webrtc · {media} · gpt-realtime-2" in page  # pending, and
    assert f'<div class="muted small">openai · webrtc · {media}</div>' in page  # all targets
    row = page[page.index('data-field="media"') :]
    row = row[: row.index("</tr>")]
    old, new = row.split('class="new"')
    assert "<code>relay</code>" in old and "<code>direct</code>" in new


def test_the_approvals_page_shows_no_media_for_other_transports(agent, client):
    registered(agent, transport="websocket")
    client.force_login(User.objects.create_superuser("ops", password="pw"))
    page = client.get("/access/approvals/").content.decode()
    assert "openai · websocket · gpt-realtime-2" in page
    assert 'class="media"' not in page
    assert Target.objects.get(kind="session").definition["media"] == ""
    assert NODE in page
