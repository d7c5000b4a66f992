"""Sockets follow credentials: a revoked key closes what it opened; a session's client
secret travels in a header or a subprotocol, not only in the (logged) URL."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from access_app import socket_credentials
from access_app.models import ApiKey
from access_app.socket_credentials import STARTER_REVOKED_MESSAGE
from agentfield_site.asgi import application
from sessions_app.models import SessionInstance
from tests.sessions_app.helpers import session_world, start
from tests.sessions_app.link_client import open_link
from tests.sessions_app.realtime_client import RealtimeClient

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def handler_world(admin, simulator):
    session_world(admin.client(), transport="websocket", handler=True)


@pytest.fixture
def operator(django_user_model):
    user = django_user_model.objects.create_superuser("ops", password="pw-ops-12345")
    client = Client()
    client.force_login(user)
    return client


def revoke_in_the_admin(operator: Client, key: ApiKey) -> None:
    response = operator.post(
        "/admin/access_app/apikey/",
        {"action": "revoke_keys", "_selected_action": [key.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert "Revoked 1 key(s)." in response.content.decode()


async def test_revoking_a_key_in_the_admin_closes_its_realtime_call_and_its_agent_link(
    handler_world, admin, operator
):
    """An admin key may act as the node and start its sessions: one key, both sockets."""
    link = await open_link(admin.secret)
    assert (await link.receive_json_from())["type"] == "link.ready"
    sid = (await database_sync_to_async(start)(admin.client())).json()["session_id"]
    call = RealtimeClient(sid, headers=[(b"x-api-key", admin.secret.encode())])
    await call.connect()
    await call.until("agentfield.session.active")
    assert (await link.receive_json_from(timeout=5))["type"] == "session.started"

    await database_sync_to_async(revoke_in_the_admin)(operator, admin.key)

    error = await call.until("error")
    assert (error["error"]["code"], error["error"]["status"]) == ("unauthorized", 401)
    assert await call.closed_code() == 4401
    row = await database_sync_to_async(SessionInstance.objects.get)(session_id=sid)
    assert row.status == "ended" and "revoked" in row.end_reason
    while (message := await link.receive_json_from(timeout=5))["type"] != "error":
        assert message["type"] == "session.ended"
    assert message["code"] == "unauthorized"
    assert (await link.receive_output(timeout=5))["code"] == 4401


async def test_another_keys_revocation_leaves_the_call_alone(handler_world, admin, bob, operator):
    link = await open_link(admin.secret)
    await link.receive_json_from()
    await database_sync_to_async(revoke_in_the_admin)(operator, bob.key)
    await link.send_json_to({"type": "session.say", "session_id": "sess_nope", "text": "hi"})
    assert (await link.receive_json_from())["message"] == "no live session with this id"
    await link.disconnect()


@pytest.fixture
def ws_session(alice, admin, simulator):
    session_world(admin.client(), transport="websocket")
    return start(alice.client()).json()


async def connect(path: str, *, headers=(), subprotocols=None):
    communicator = WebsocketCommunicator(
        application, path, headers=list(headers), subprotocols=subprotocols
    )
    connected, subprotocol = await communicator.connect(timeout=10)
    assert connected
    return communicator, subprotocol


async def first_event_type(communicator) -> str:
    event = await communicator.receive_json_from(timeout=10)
    return event["type"]


def realtime_path(ws_session) -> str:
    return f"/api/v1/session-instances/{ws_session['session_id']}/realtime"


async def test_the_client_secret_works_as_a_bearer_header(ws_session):
    secret = ws_session["client_secret"]["value"]
    communicator, _ = await connect(
        realtime_path(ws_session), headers=[(b"authorization", f"Bearer {secret}".encode())]
    )
    assert await first_event_type(communicator) == "agentfield.session.active"
    await communicator.disconnect()


async def test_the_client_secret_works_as_a_subprotocol_which_is_never_echoed(ws_session):
    secret = ws_session["client_secret"]["value"]
    protocols = ["realtime", f"agentfield-client-secret.{secret}"]
    communicator, subprotocol = await connect(realtime_path(ws_session), subprotocols=protocols)
    assert subprotocol == "realtime"
    assert await first_event_type(communicator) == "agentfield.session.active"
    await communicator.disconnect()


async def test_the_url_form_still_works(ws_session):
    secret = ws_session["client_secret"]["value"]
    communicator, _ = await connect(realtime_path(ws_session) + f"?client_secret={secret}")
    assert await first_event_type(communicator) == "agentfield.session.active"
    await communicator.disconnect()


@pytest.mark.parametrize("where", ["header", "subprotocol"])
async def test_a_wrong_client_secret_is_401_wherever_it_is_sent(ws_session, where):
    bad = "cs_not-the-secret"
    headers = [(b"authorization", f"Bearer {bad}".encode())] if where == "header" else []
    protocols = ["realtime", f"agentfield-client-secret.{bad}"] if where == "subprotocol" else None
    communicator, subprotocol = await connect(
        realtime_path(ws_session), headers=headers, subprotocols=protocols
    )
    assert subprotocol == ("realtime" if protocols else None)
    event = await communicator.receive_json_from(timeout=10)
    assert event["error"]["status"] == 401
    assert (await communicator.receive_output(timeout=5))["code"] == 4401


def _revoke_behind_the_services_back(key: ApiKey) -> None:
    ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())


async def test_a_revoked_starters_client_secret_is_refused_on_every_route(ws_session, alice):
    """Even when nothing ended the session (raw SQL): the secret dies with its starter."""
    secret = ws_session["client_secret"]["value"]
    url = f"/api/v1/session-instances/{ws_session['session_id']}"
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert (await database_sync_to_async(client.get)(url)).status_code == 200
    await database_sync_to_async(_revoke_behind_the_services_back)(alice.key)

    for route in ("/tools/resolve_voice_turn", "/turns", "/realtime-offer"):
        response = await database_sync_to_async(client.post)(url + route, {}, format="json")
        assert response.status_code == 401, route
    communicator, _ = await connect(
        realtime_path(ws_session), headers=[(b"authorization", f"Bearer {secret}".encode())]
    )
    event = await communicator.receive_json_from(timeout=10)
    assert event["error"]["status"] == 401
    assert (await communicator.receive_output(timeout=5))["code"] == 4401


async def test_revoking_the_starter_ends_a_live_call_opened_with_its_client_secret(
    ws_session, alice, operator
):
    secret = ws_session["client_secret"]["value"]
    call = RealtimeClient(
        ws_session["session_id"], headers=[(b"authorization", f"Bearer {secret}".encode())]
    )
    await call.connect()
    await call.until("agentfield.session.active")

    await database_sync_to_async(revoke_in_the_admin)(operator, alice.key)

    error = await call.until("error")
    assert (error["error"]["code"], error["error"]["status"]) == ("unauthorized", 401)
    assert error["error"]["message"] == STARTER_REVOKED_MESSAGE
    assert await call.closed_code() == 4401
    get = SessionInstance.objects.get
    row = await database_sync_to_async(get)(session_id=ws_session["session_id"])
    assert (row.status, row.end_reason) == ("ended", STARTER_REVOKED_MESSAGE)


async def test_revoking_the_starter_ends_its_sessions_nobody_holds(ws_session, alice, operator):
    await database_sync_to_async(revoke_in_the_admin)(operator, alice.key)
    get = SessionInstance.objects.get
    row = await database_sync_to_async(get)(session_id=ws_session["session_id"])
    assert (row.status, row.end_reason) == ("ended", STARTER_REVOKED_MESSAGE)


async def test_a_client_secret_socket_follows_its_starters_key_at_the_recheck(
    ws_session, alice, monkeypatch
):
    """A revocation by raw SQL sends no message and ends no session: the recheck does."""
    monkeypatch.setattr(socket_credentials, "RECHECK_SECONDS", 0.05)
    secret = ws_session["client_secret"]["value"]
    call = RealtimeClient(
        ws_session["session_id"], headers=[(b"authorization", f"Bearer {secret}".encode())]
    )
    await call.connect()
    await call.until("agentfield.session.active")
    await database_sync_to_async(_revoke_behind_the_services_back)(alice.key)
    error = await call.until("error")
    assert error["error"]["message"] == STARTER_REVOKED_MESSAGE
    assert await call.closed_code() == 4401
