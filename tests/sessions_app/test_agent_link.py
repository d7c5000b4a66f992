"""The agent link: who may open it, what it records, and what it refuses."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.db import DatabaseError
from django.utils import timezone

from access_app import socket_credentials
from access_app.models import ApiKey
from access_app.services.api_keys import api_key_revoke
from sessions_app.models import AgentLink
from tests.sessions_app.helpers import VOICE_NODE, session_world, start
from tests.sessions_app.link_client import open_link

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def world(admin):
    session_world(admin.client(), transport="websocket", handler=True)


@pytest.fixture
def node_key(make_caller):
    return make_caller("agent", node_id=VOICE_NODE, name="voice agent")


async def test_the_nodes_own_key_opens_the_link_and_handler_sessions_can_start(
    world, node_key, alice
):
    link = await open_link(node_key.secret)
    assert await link.receive_json_from() == {"type": "link.ready", "node_id": VOICE_NODE}
    assert await database_sync_to_async(AgentLink.objects.filter(node__node_id=VOICE_NODE).exists)()
    response = await database_sync_to_async(start)(alice.client())
    assert response.status_code == 201
    await link.disconnect()
    assert not await database_sync_to_async(AgentLink.objects.exists)()
    refused = await database_sync_to_async(start)(alice.client())
    assert refused.status_code == 503


@pytest.fixture
def other_node_key(make_caller):
    return make_caller("agent", node_id="someone-else")


async def test_another_nodes_key_or_a_caller_cannot_open_it(world, other_node_key, alice):
    other = other_node_key
    for secret in (other.secret, alice.secret):
        link = await open_link(secret)
        message = await link.receive_json_from()
        assert message["type"] == "error"
        assert (await link.receive_output())["code"] == 4403
    assert not await database_sync_to_async(AgentLink.objects.exists)()


async def test_messages_about_foreign_or_unknown_sessions_are_refused(world, node_key):
    link = await open_link(node_key.secret)
    await link.receive_json_from()
    await link.send_json_to({"type": "session.say", "session_id": "sess_nope", "text": "hi"})
    assert (await link.receive_json_from())["message"] == "no live session with this id"
    await link.send_json_to({"type": "bogus"})
    assert (await link.receive_json_from())["type"] == "error"
    await link.send_to(text_data="not json")
    assert (await link.receive_json_from())["type"] == "error"
    await link.disconnect()


async def test_revoking_the_key_closes_the_link_it_opened(world, node_key):
    link = await open_link(node_key.secret)
    assert (await link.receive_json_from())["type"] == "link.ready"
    await database_sync_to_async(api_key_revoke)(key=node_key.key)
    message = await link.receive_json_from()
    assert (message["type"], message["code"]) == ("error", "unauthorized")
    assert (await link.receive_output())["code"] == 4401
    await link.disconnect()  # what daphne reports once the close went out
    assert not await database_sync_to_async(AgentLink.objects.exists)()


async def test_a_key_revoked_behind_the_services_back_closes_the_link_at_its_recheck(
    world, node_key, monkeypatch
):
    """Raw SQL (or another process on the in-memory channel layer) sends no message."""
    monkeypatch.setattr(socket_credentials, "RECHECK_SECONDS", 0.05)
    link = await open_link(node_key.secret)
    assert (await link.receive_json_from())["type"] == "link.ready"
    revoke = ApiKey.objects.filter(pk=node_key.key.pk).update
    await database_sync_to_async(revoke)(revoked_at=timezone.now())
    message = await link.receive_json_from(timeout=10)
    assert message["code"] == "unauthorized"
    assert (await link.receive_output(timeout=5))["code"] == 4401


async def test_a_database_error_at_a_recheck_does_not_stop_the_rechecks(
    world, node_key, monkeypatch
):
    monkeypatch.setattr(socket_credentials, "RECHECK_SECONDS", 0.05)
    real, calls = socket_credentials.api_key_is_active, []

    def flaky(key_id: int) -> bool:
        calls.append(key_id)
        if len(calls) == 1:
            raise DatabaseError("the database went away for a moment")
        return real(key_id)

    monkeypatch.setattr(socket_credentials, "api_key_is_active", flaky)
    link = await open_link(node_key.secret)
    assert (await link.receive_json_from())["type"] == "link.ready"
    revoke = ApiKey.objects.filter(pk=node_key.key.pk).update
    await database_sync_to_async(revoke)(revoked_at=timezone.now())
    message = await link.receive_json_from(timeout=10)
    assert message["code"] == "unauthorized"
    assert (await link.receive_output(timeout=5))["code"] == 4401
