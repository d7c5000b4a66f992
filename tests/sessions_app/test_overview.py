"""The overview: next steps that follow the real state, and a live status scoped to the
visitor (anonymous: the sign-in step only; a caller: its own calls and startable targets;
an admin: what waits for approval)."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.shortcuts import resolve_url
from django.test import Client

from access_app.models import AgentNode, CallerProfile, Target
from access_app.services.approvals import target_tags_decide
from access_app.services.nodes import node_shutdown
from tests.factories import node_body, session_def
from tests.sessions_app.helpers import TOOL_NODE, VOICE_NODE, session_world

pytestmark = pytest.mark.django_db

PENDING_NODE = "pending-node"


def logged_in(username: str, tags: list[str], *, superuser: bool = False) -> Client:
    users = get_user_model().objects
    if superuser:
        user = users.create_superuser(username, password="pw-12345678")
    else:
        user = users.create_user(username, password="pw-12345678")
        CallerProfile.objects.create(user=user, tags=tags)
    client = Client()
    client.force_login(user)
    return client


def step(html: str, key: str) -> str:
    """The markup of one step (empty when the page does not show it)."""
    found = re.search(rf'<li class="step [^"]*" data-step="{key}".*?</li>', html, re.S)
    return found.group(0) if found else ""


def state_of(html: str, key: str) -> str:
    found = re.search(rf'data-step="{key}" data-state="(\w+)"', html)
    return found.group(1) if found else ""


@pytest.fixture
def world(admin):
    """The approved voice node and the support node (session_world), and a node whose
    session proposes two tags nobody has decided yet."""
    session_world(admin.client())
    body = node_body(
        PENDING_NODE, reasoners=[], sessions=[session_def("intake", tags=["team:x", "pii:x"])]
    )
    response = admin.client().post("/api/v1/nodes/register", body, format="json")
    assert response.status_code == 201, response.content


def started(client: Client) -> str:
    response = client.post(
        f"/api/v1/session-targets/{VOICE_NODE}.voice/start", "{}", content_type="application/json"
    )
    assert response.status_code == 201, response.content
    return response.json()["session_id"]


def test_an_anonymous_visitor_sees_the_sign_in_step_and_no_data(world):
    carol = logged_in("carol", ["team:a"])
    sid = started(carol)
    html = Client().get("/").content.decode()
    assert state_of(html, "sign-in") == "todo"
    login = resolve_url(settings.LOGIN_URL)
    assert f'href="{login}?next=%2F"' in step(html, "sign-in")
    assert state_of(html, "approve") == state_of(html, "call") == ""
    assert 'id="status"' not in html
    for secret in [sid, VOICE_NODE, TOOL_NODE, PENDING_NODE, "/access/approvals/"]:
        assert secret not in html.split("<main>")[1], secret


def test_a_caller_sees_only_its_own_calls_and_the_targets_it_may_start(world):
    carol, mallory = logged_in("carol", ["team:a"]), logged_in("mallory", ["team:a"])
    mine, theirs = started(carol), started(mallory)
    html = carol.get("/").content.decode()
    main = html.split("<main>")[1]
    assert state_of(html, "sign-in") == "done" and "Signed in as carol" in html
    assert state_of(html, "approve") == "done"
    assert state_of(html, "call") == "done"  # carol has made a call
    assert f'href="/sessions/{VOICE_NODE}.voice/"' in step(html, "call")
    assert f"/sessions/{PENDING_NODE}.intake/" not in main  # pending: not startable
    assert f'href="/session-instances/{mine}/"' in main
    assert theirs not in main
    # the status: the node behind her target, online, without the registry's internals
    assert re.findall(r'<li data-node="([^"]+)" data-online="(\w+)"', main) == [(VOICE_NODE, "yes")]
    assert "http://127.0.0.1:9" not in main and "badge status-" not in main
    assert 'data-stat="pending"' not in main and "/access/approvals/" not in main


def test_a_caller_with_nothing_open_waits_for_an_admin(world):
    html = logged_in("dave", ["team:z"]).get("/").content.decode()
    main = html.split("<main>")[1]
    assert state_of(html, "approve") == "waiting" and "Waiting for an admin" in main
    assert "(team:z)" in step(html, "approve")
    assert state_of(html, "call") == "waiting"
    assert "/sessions/" + VOICE_NODE not in main
    assert "data-node=" not in main and "No calls yet." in main


def test_an_admin_sees_the_pending_tags_with_a_link_to_approvals(world):
    carol = logged_in("carol", ["team:a"])
    carols = started(carol)
    ops = logged_in("ops", [], superuser=True)
    html = ops.get("/").content.decode()
    main = html.split("<main>")[1]
    approve = step(html, "approve")
    assert state_of(html, "approve") == "todo"
    assert "2 tags on 1 target wait for your decision." in approve
    assert 'href="/access/approvals/"' in approve
    figure = re.search(
        r'data-stat="pending">\s*<h3>Tags pending <span class="stat-figure">(\d+)<', main
    )
    assert figure and figure.group(1) == "2"
    # every node, with its registry status; the recent calls are the admin's own
    nodes = re.findall(r'<li data-node="([^"]+)"', main)
    assert nodes == sorted([VOICE_NODE, TOOL_NODE, PENDING_NODE])
    assert "badge status-pending_approval" in main
    assert carols not in main and "No calls yet." in main
    assert state_of(html, "call") == "todo"  # admins may start the approved target
    mine = started(ops)
    assert f'href="/session-instances/{mine}/"' in ops.get("/").content.decode()


def test_the_steps_follow_the_decisions_and_the_nodes(world):
    ops = logged_in("ops", [], superuser=True)
    for target in Target.objects.filter(node__node_id=PENDING_NODE):
        target_tags_decide(target=target, decision="approved", actor="test")
    html = ops.get("/").content.decode()
    assert state_of(html, "approve") == "done"
    assert 'data-stat="pending">\n      <h3>Tags pending <span class="stat-figure">0<' in html
    assert f'href="/sessions/{PENDING_NODE}.intake/"' in step(html, "call")
    node_shutdown(node=AgentNode.objects.get(node_id=PENDING_NODE))
    html = ops.get("/").content.decode()
    assert f'<li data-node="{PENDING_NODE}" data-online="no">' in html
    assert '<span class="stat-figure">2 / 3</span>' in html


def test_an_admin_with_no_node_is_told_to_start_one(db):
    html = logged_in("ops", [], superuser=True).get("/").content.decode()
    assert state_of(html, "approve") == "waiting" and "No agent node has registered" in html
    assert state_of(html, "call") == "waiting"


def test_a_caller_signed_in_with_an_api_key_sees_the_calls_of_that_key(world, alice, make_caller):
    mallory = make_caller("caller", tags=["team:a"], name="mallory")
    start = f"/api/v1/session-targets/{VOICE_NODE}.voice/start"
    alices = alice.client().post(start, {}, format="json")
    mallorys = mallory.client().post(start, {}, format="json")
    assert alices.status_code == mallorys.status_code == 201, (alices.content, mallorys.content)
    browser = Client()
    browser.get("/login/")
    body = {"api_key": alice.secret, "csrfmiddlewaretoken": browser.cookies["csrftoken"].value}
    assert browser.post("/login/key", body).status_code == 302
    html = browser.get("/").content.decode()
    assert "Signed in as alice" in html and state_of(html, "call") == "done"
    assert f'href="/session-instances/{alices.json()["session_id"]}/"' in html
    assert mallorys.json()["session_id"] not in html
    assert re.findall(r'<li data-node="([^"]+)"', html) == [VOICE_NODE]
