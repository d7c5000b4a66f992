"""Django's middleware under the ASGI handler (``AsyncClient``), as daphne runs it.

A hook that touched the database on the event loop would raise Django's
``SynchronousOnlyOperation`` and turn these requests into 500s; the counter shows which
hooks went to a thread.
"""

from __future__ import annotations

import re

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.test import AsyncClient

from access_app.models import Target
from agentfield_site import loop_middleware
from tests.factories import node_body

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "correct-horse-battery"


@pytest.fixture
def thread_hops(monkeypatch) -> list[str]:
    """The names of the hooks the loop-safe middleware handed to a thread."""
    hops: list[str] = []

    def counting(function, **kwargs):
        hops.append(f"{type(function.__self__).__name__}.{function.__name__}")
        return sync_to_async(function, **kwargs)

    monkeypatch.setattr(loop_middleware, "sync_to_async", counting)
    return hops


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_user(
        "reviewer", password=PASSWORD, is_staff=True, is_superuser=True
    )


async def test_an_api_request_runs_every_hook_on_the_event_loop(alice, thread_hops):
    response = await AsyncClient().get("/api/v1/me", headers={"X-API-Key": alice.secret})
    assert response.status_code == 200
    assert response.json()["role"] == "caller"
    assert thread_hops == []
    # The middleware still did its work: security and framing headers, no session cookie.
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert "sessionid" not in response.cookies


async def test_a_form_login_saves_its_session_in_a_thread_and_the_session_then_works(
    staff, thread_hops
):
    client = AsyncClient(enforce_csrf_checks=True)
    login_page = await client.get("/admin/login/")
    assert login_page.status_code == 200
    assert "csrftoken" in login_page.cookies, "the CSRF cookie is set from the loop"
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page.content.decode())
    assert token
    assert thread_hops == []

    response = await client.post(
        "/admin/login/",
        {"username": "reviewer", "password": PASSWORD, "csrfmiddlewaretoken": token[1]},
    )
    assert response.status_code == 302, response.content[:500]
    assert "sessionid" in response.cookies
    assert "SessionMiddleware.process_response" in thread_hops
    assert "CsrfViewMiddleware.process_view" in thread_hops, "an unsafe form post is checked"

    assert (await client.get("/access/approvals/")).status_code == 200
    me = await client.get("/api/v1/me")
    assert me.json()["role"] == "admin"


async def test_a_form_post_without_its_csrf_token_is_refused(staff):
    client = AsyncClient(enforce_csrf_checks=True)
    await client.aforce_login(staff)
    response = await client.post("/access/approvals/decide", {"target": 1, "op": "approved|*"})
    assert response.status_code == 403


async def test_a_flash_message_survives_the_redirect(staff, admin, thread_hops):
    def register() -> int:
        admin.client().post("/api/v1/nodes/register", node_body(), format="json")
        return Target.objects.get(kind="session", name="voice").pk

    target = await sync_to_async(register)()
    client = AsyncClient()
    await client.aforce_login(staff)
    response = await client.post(
        "/access/approvals/decide", {"target": target, "op": "maybe|x"}, follow=True
    )
    assert response.status_code == 200
    assert "Choose approve or reject" in response.content.decode()
    assert "MessageMiddleware.process_response" in thread_hops
