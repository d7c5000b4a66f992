"""Every page at 390 px (a phone) in real Chromium: no page is wider than the screen.
Each page is loaded with realistic rows (nodes with approved and pending tags, a finished
call whose tool call has a long execution id, its workflow) and saved as a full-page
screenshot at 390 px and at desktop width to test-artifacts/<page>-390.png / -desktop.png."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.shortcuts import resolve_url
from django.test import Client
from django.utils import timezone

from access_app.models import CallerProfile, Target, TargetKind
from access_app.services.approvals import target_tags_decide
from executions_app.models import Execution
from sessions_app.models import SessionEvent, SessionInstance
from sessions_app.services.events import session_event_append
from tests.browser import ARTIFACTS, chromium_page
from tests.factories import node_body, session_def
from tests.servers import daphne_server
from tests.sessions_app.helpers import TOOL_NODE, VOICE_NODE, session_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
# The longest id an execution row holds (64 characters), as a tool call's child.
LONG_EXECUTION_ID = "exec_20261201_120000_" + "0123456789abcdef" * 2 + "fedcba9876"
PENDING_NODE = "intake-desk-with-a-rather-long-node-identifier"
WIDER_THAN_THE_SCREEN = "document.documentElement.scrollWidth > window.innerWidth"
# For the failure message: the outermost elements that stick out past the screen's right
# edge (not those inside a container that scrolls them).
STICKING_OUT = """[...document.body.querySelectorAll('*')].filter(e => {
  if (e.getBoundingClientRect().right <= window.innerWidth + 0.5) return false;
  for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
    if (getComputedStyle(a).overflowX !== 'visible') return false;
    if (a.getBoundingClientRect().right > window.innerWidth + 0.5) return false;
  }
  return true;
}).slice(0, 5).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
  + (typeof e.className === 'string' && e.className.trim()
     ? '.' + e.className.trim().split(/\\s+/).join('.') : ''))"""


def login_cookie(username: str, *, superuser: bool = False, tags=()) -> str:
    users = get_user_model().objects
    if superuser:
        user = users.create_superuser(username, password="pw-12345678")
    else:
        user = users.create_user(username, password="pw-12345678")
        CallerProfile.objects.create(user=user, tags=list(tags))
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def finished_call(caller: Client) -> tuple[str, str]:
    """A call with turns, a tool call (its execution and a child with a 64-character id)
    and its end: the session id and the workflow id."""
    start = caller.post(
        f"/api/v1/session-targets/{VOICE_NODE}.voice/start", "{}", content_type="application/json"
    )
    assert start.status_code == 201, start.content
    sid = start.json()["session_id"]
    session = SessionInstance.objects.get(session_id=sid)
    session_event_append(session, "turn.user", {"text": "where is my order 1042", "audio_ms": 1400})
    tool = caller.post(
        f"/api/v1/session-instances/{sid}/tools/resolve_voice_turn",
        '{"order_id": "1042"}',
        content_type="application/json",
    )
    assert tool.status_code in (200, 202), tool.content
    parent = Execution.objects.get(execution_id=tool.json()["execution_id"])
    now = timezone.now()
    Execution.objects.filter(pk=parent.pk).update(
        status="succeeded", started_at=now, completed_at=now, duration_ms=412
    )
    Execution.objects.create(
        execution_id=LONG_EXECUTION_ID, run_id=parent.run_id, workflow_id=parent.workflow_id,
        parent_execution_id=parent.execution_id, depth=1, target=parent.target,
        target_name=f"{TOOL_NODE}.resolve_voice_turn", target_type="reasoner",
        status="succeeded", owner=parent.owner, session_id=sid, started_at=now,
        completed_at=now + timedelta(milliseconds=88), duration_ms=88,
    )  # fmt: skip
    call = session_event_append(
        session, "tool.call", {"target": f"{TOOL_NODE}.resolve_voice_turn", "by": "handler"}
    )
    SessionEvent.objects.filter(pk=call.pk).update(execution_id=LONG_EXECUTION_ID)
    session_event_append(session, "tool.result", {"status": "succeeded", "duration_ms": 412})
    session_event_append(
        session,
        "turn.assistant",
        {"text": "Order 1042, noise-cancelling headphones, shipped with UPS, arrives Friday."},
    )
    end = caller.post(f"/api/v1/session-instances/{sid}/end", "{}", content_type="application/json")
    assert end.status_code == 200, end.content
    return sid, parent.workflow_id


@pytest.fixture
def pages(admin):
    """(name, who, path) of every page, on rows made here."""
    session_world(admin.client())
    body = node_body(
        PENDING_NODE,
        reasoners=[{"id": "triage_incoming_request", "tags": ["support", "pii:full"]}],
        sessions=[session_def("intake", tags=["support:voice", "team:intake-escalations"])],
    )
    assert admin.client().post("/api/v1/nodes/register", body, format="json").status_code == 201
    reasoner = Target.objects.get(node__node_id=PENDING_NODE, kind=TargetKind.REASONER)
    target_tags_decide(target=reasoner, decision="approved", tags=["support"], actor="test")
    carol = Client()
    carol.cookies["sessionid"] = login_cookie("carol", tags=["team:a"])
    sid, workflow_id = finished_call(carol)
    cookies = {
        "admin": login_cookie("ops", superuser=True),
        "caller": carol.cookies["sessionid"].value,
        "anonymous": None,
    }
    login = resolve_url(settings.LOGIN_URL)
    return cookies, [
        ("overview-anonymous", "anonymous", "/"),
        ("login", "anonymous", login),
        ("not-found", "anonymous", "/no-such-page/"),
        ("overview-caller", "caller", "/"),
        ("overview-admin", "admin", "/"),
        ("sessions", "caller", "/sessions/"),
        ("voice", "caller", f"/sessions/{VOICE_NODE}.voice/"),
        ("replay", "caller", f"/session-instances/{sid}/"),
        ("workflow", "caller", f"/workflows/{workflow_id}/"),
        ("approvals", "admin", "/access/approvals/"),
        ("api-docs", "admin", "/api/docs/"),
        ("admin-index", "admin", "/admin/"),
        ("admin-api-keys", "admin", "/admin/access_app/apikey/"),
        ("admin-user-add", "admin", "/admin/auth/user/add/"),
        ("admin-nodes", "admin", "/admin/access_app/agentnode/"),
        ("admin-targets", "admin", "/admin/access_app/target/"),
        ("admin-policy-add", "admin", "/admin/access_app/accesspolicy/add/"),
        ("admin-executions", "admin", "/admin/executions_app/execution/"),
    ]


def test_every_page_fits_a_390_px_screen(pages):
    cookies, visits = pages
    too_wide = []
    with daphne_server("pages-390") as server, chromium_page() as page:
        for name, who, path in visits:
            page.context.clear_cookies()
            if cookies[who]:
                cookie = {"name": "sessionid", "value": cookies[who], "url": server.base_url}
                page.context.add_cookies([cookie])
            for label, viewport in (("390", PHONE), ("desktop", DESKTOP)):
                page.set_viewport_size(viewport)
                response = page.goto(server.base_url + path)
                assert response.status == (404 if name == "not-found" else 200), (name, path)
                assert response.url.endswith(path), (name, response.url)  # no login redirect
                if name == "api-docs":  # rendered, with one operation open
                    page.click("#swagger-ui .opblock .opblock-summary", timeout=20_000)
                    page.wait_for_selector("#swagger-ui .opblock-body .responses-wrapper")
                page.screenshot(path=str(ARTIFACTS / f"{name}-{label}.png"), full_page=True)
                if label == "390" and page.evaluate(WIDER_THAN_THE_SCREEN):
                    width = page.evaluate("document.documentElement.scrollWidth")
                    culprits = page.evaluate(STICKING_OUT)
                    too_wide.append(f"{name} ({path}): {width} px, by {culprits}")
    assert too_wide == []
