"""Three callers over every route that takes an id: admin, A (who owns everything here)
and B (same tags as A, so ownership is the only thing in B's way).

B never sees or touches A's sessions, events, executions, DAGs or provenance: each answer
is exactly the answer for an id that does not exist. Admin sees all. The one exception is
``X-Session-ID`` on execute: an id naming no session instance is upstream's free
conversation key (recorded as given), so there B's call on A's session (404) differs from
one on a missing id (202); session ids are 64 random bits, so this tells nobody anything
about ids they do not already hold. A client secret works
for its own session only, and not at all once that session has ended.

To cover a route added later (the WebRTC offer, audio turns), add an ``IdRoute``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

from access_app.models import CallerProfile
from tests.factories import allow_policy
from tests.sessions_app.helpers import VOICE_NODE, session_world, start, unmasked
from tests.sessions_app.realtime_client import RealtimeClient

MISSING = {
    "sid": "sess_20990101_000000_0000000000000000",
    "eid": "exec_20990101_000000_0000000000000000",
    "wid": "run_20990101_000000_0000000000000000",
}


@dataclass(frozen=True)
class IdRoute:
    name: str
    method: str
    path: str  # {sid}, {eid}, {wid}: A's ids, or missing ones
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    admin_status: int = 200

    def call(self, client, ids: dict[str, str]):
        headers = {k: v.format(**ids) for k, v in self.headers.items()}
        path = self.path.format(**ids)
        if self.method == "get":
            return client.get(path, **headers)
        return client.post(path, self.body or {}, format="json", **headers)


TOOL = "/api/v1/execute/async/support.resolve_voice_turn"
ROUTES = [
    IdRoute("session", "get", "/api/v1/session-instances/{sid}"),
    IdRoute("session events", "get", "/api/v1/session-instances/{sid}/events"),
    IdRoute("session end", "post", "/api/v1/session-instances/{sid}/end"),
    IdRoute(
        "session tool", "post", "/api/v1/session-instances/{sid}/tools/resolve_voice_turn",
        admin_status=202,
    ),
    # the session is a WebSocket one: admin gets past the scope to the transport check
    IdRoute("session turn", "post", "/api/v1/session-instances/{sid}/turns", {"text": "hi"},
            admin_status=400),
    IdRoute("execution", "get", "/api/v1/executions/{eid}"),
    IdRoute("provenance", "get", "/api/v1/executions/{eid}/provenance"),
    # only the node the execution was dispatched to may answer for it, not even an admin
    IdRoute(
        "status callback", "post", "/api/v1/executions/{eid}/status", {"status": "succeeded"},
        admin_status=403,
    ),
    IdRoute("workflow dag", "get", "/api/v1/workflows/{wid}/dag"),
    IdRoute("execute as a child", "post", TOOL,
            headers={"HTTP_X_PARENT_EXECUTION_ID": "{eid}"}, admin_status=202),
]  # fmt: skip

pytestmark = pytest.mark.django_db


@dataclass
class World:
    admin: APIClient
    a: APIClient
    b: APIClient
    ids: dict[str, str]
    secret: str
    keys: dict[str, str]  # admin, a, b -> API key, for the WebSocket handshake


@pytest.fixture
def world(make_caller) -> World:
    root = make_caller("admin", tags=["team:a"], name="root")
    a = make_caller("caller", tags=["team:a"], name="caller A")
    b = make_caller("caller", tags=["team:a"], name="caller B")
    session_world(root.client(), transport="websocket")
    allow_policy()  # team:a may call support directly, so only ownership stands in B's way
    started = start(a.client()).json()
    sid = started["session_id"]
    call = a.client().post(
        f"/api/v1/session-instances/{sid}/tools/resolve_voice_turn", {}, format="json"
    )
    assert call.status_code == 202, call.content
    ids = {"sid": sid, "eid": call.json()["execution_id"], "wid": call.json()["workflow_id"]}
    secret = started["client_secret"]["value"]
    keys = {"admin": root.secret, "a": a.secret, "b": b.secret}
    return World(root.client(), a.client(), b.client(), ids, secret, keys)


@pytest.mark.parametrize("route", ROUTES, ids=[r.name for r in ROUTES])
def test_b_gets_exactly_what_a_missing_id_gets_and_admin_gets_through(world, route):
    on_a = route.call(world.b, world.ids)
    on_missing = route.call(world.b, MISSING)
    assert on_a.status_code == on_missing.status_code == 404, on_a.content
    assert on_a.json() == on_missing.json()
    assert route.call(world.admin, world.ids).status_code == route.admin_status


def test_b_cannot_attach_to_as_session_though_a_free_session_key_is_taken(world):
    headers = {"HTTP_X_SESSION_ID": world.ids["sid"]}
    on_a = world.b.post(TOOL, {}, format="json", **headers)
    assert (on_a.status_code, on_a.json()) == (404, {"error": "session not found"})
    free = world.b.post(TOOL, {}, format="json", HTTP_X_SESSION_ID=MISSING["sid"])
    assert free.status_code == 202 and free.json()["session_id"] == MISSING["sid"]
    # nothing of B's reaches A's session, and A's session's executions stay out of B's sight
    assert world.b.get(f"/api/v1/executions/{world.ids['eid']}").status_code == 404
    assert world.admin.post(TOOL, {}, format="json", **headers).status_code == 202


def test_batch_status_answers_not_found_for_as_ids_as_for_missing_ones(world):
    url = "/api/v1/executions/batch-status"
    eid, missing = world.ids["eid"], MISSING["eid"]
    body = world.b.post(url, {"execution_ids": [eid, missing]}, format="json").json()
    assert body[eid] == body[missing] == {"status": "not_found"}
    seen = world.admin.post(url, {"execution_ids": [eid]}, format="json").json()
    assert seen[eid]["status"] == "queued"


def test_lists_show_b_nothing_of_as_and_admin_everything(world):
    url = "/api/v1/session-instances"
    assert world.b.get(url).json()["total"] == 0
    assert [s["session_id"] for s in world.admin.get(url).json()["sessions"]] == [world.ids["sid"]]


def secret_client(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


SESSION_ROUTES = [r for r in ROUTES if r.path.startswith("/api/v1/session-instances/{sid}")]


def test_a_client_secret_never_works_for_another_session(world):
    other = start(world.b).json()["session_id"]
    client = secret_client(world.secret)
    for route in SESSION_ROUTES:
        on_other = route.call(client, {**world.ids, "sid": other})
        on_missing = route.call(client, MISSING)
        assert on_other.status_code == on_missing.status_code == 404, route.name
        assert on_other.json() == on_missing.json()


def test_a_client_secret_stops_working_when_its_session_ends(world):
    client = secret_client(world.secret)
    assert SESSION_ROUTES[0].call(client, world.ids).status_code == 200
    world.a.post(f"/api/v1/session-instances/{world.ids['sid']}/end", {}, format="json")
    for route in SESSION_ROUTES:
        assert route.call(client, world.ids).status_code == 401, route.name


# --- pages (browser logins) -------------------------------------------------------------

PAGES = ["/session-instances/{sid}/", "/workflows/{wid}/"]


def logged_in(username: str, *, staff: bool = False, superuser: bool = False) -> Client:
    """``staff`` alone opens the Django admin only; a superuser is an admin everywhere."""
    user = get_user_model().objects.create_user(
        username, password="pw-12345678", is_staff=staff or superuser, is_superuser=superuser
    )
    CallerProfile.objects.create(user=user, tags=["team:a"])
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def page_world(make_caller) -> tuple[dict[str, str], Client, Client, Client]:
    session_world(make_caller("admin", name="root").client(), transport="websocket")
    a, b = logged_in("page-a"), logged_in("page-b")
    staff = logged_in("root-user", superuser=True)
    sid = a.post(
        f"/api/v1/session-targets/{VOICE_NODE}.voice/start", "{}", content_type="application/json"
    ).json()["session_id"]
    call = a.post(
        f"/api/v1/session-instances/{sid}/tools/resolve_voice_turn",
        "{}",
        content_type="application/json",
    ).json()
    return {"sid": sid, "wid": call["workflow_id"]}, a, b, staff


@pytest.mark.parametrize("page", PAGES)
def test_pages_of_as_are_a_plain_404_for_b_and_open_to_staff(page_world, page):
    ids, a, b, staff = page_world
    assert a.get(page.format(**ids)).status_code == 200
    on_a, on_missing = b.get(page.format(**ids)), b.get(page.format(**MISSING))
    assert on_a.status_code == on_missing.status_code == 404
    assert unmasked(on_a.content) == unmasked(on_missing.content)
    assert staff.get(page.format(**ids)).status_code == 200
    assert logged_in("staff-only", staff=True).get(page.format(**ids)).status_code == 404


# --- the realtime WebSocket ---------------------------------------------------------------


async def refusal(session_id: str, **kwargs) -> tuple[dict, int]:
    client = RealtimeClient(session_id, **kwargs)
    await client.connect()
    event = await client.next()
    return event["error"], await client.closed_code()


def key_headers(key: str) -> list[tuple[bytes, bytes]]:
    return [(b"x-api-key", key.encode())]


@pytest.mark.django_db(transaction=True)
async def test_the_realtime_socket_refuses_b_like_a_missing_session_and_admits_admin(
    world, simulator
):
    sid = world.ids["sid"]
    on_a = await refusal(sid, headers=key_headers(world.keys["b"]))
    on_missing = await refusal(MISSING["sid"], headers=key_headers(world.keys["b"]))
    assert on_a == on_missing
    assert on_a[1] == 4404
    other = (await database_sync_to_async(start)(world.b)).json()["session_id"]
    assert (await refusal(other, query=f"?client_secret={world.secret}"))[1] == 4404
    admin = RealtimeClient(sid, headers=key_headers(world.keys["admin"]))
    await admin.connect()
    await admin.until("agentfield.session.active")
    await admin.close()
    assert (await refusal(sid, query=f"?client_secret={world.secret}"))[1] == 4401
