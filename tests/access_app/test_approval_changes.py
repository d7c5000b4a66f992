"""The approvals page beyond the first decision: what approving a tag lets happen, decided
tags revoked or approved again with a reason, the way to try a callable target, and two
admins looking at one page. Real database, the real page views and access routes."""

from __future__ import annotations

import html as markup
import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings

from access_app.models import (
    AccessPolicy,
    CallerProfile,
    NodeStatus,
    TagDecision,
    Target,
    TargetTag,
)
from access_app.models import TagStatus as S
from sessions_app.models import SessionInstance
from tests.factories import node_body, register_approved_node
from tests.sessions_app.helpers import TOOL_NODE, VOICE_NODE, register_voice_node, start

pytestmark = pytest.mark.django_db

PAGE = "/access/approvals/"
DECIDE = "/access/approvals/decide"
VOICE = f"{VOICE_NODE}.voice"
TOOL = f"{TOOL_NODE}.resolve_voice_turn"


@pytest.fixture
def reviewer(db):
    return get_user_model().objects.create_user("reviewer", password="pw-1", is_superuser=True)


@pytest.fixture
def world(admin):
    """The voice session pending; the support node's reasoner (tagged ``support``)
    approved; the policies that let team:a start the session and the session's tags call
    support tools."""
    register_voice_node(admin.client(), approve=False)
    register_approved_node(admin.client(), TOOL_NODE, "http://127.0.0.1:9", ["resolve_voice_turn"])
    AccessPolicy.objects.create(
        name="team-a-starts-voice",
        caller_tags=["team:a"],
        target_tags=["support:*"],
        action="allow",
    )
    AccessPolicy.objects.create(
        name="voice-sessions-call-support",
        caller_tags=["support:voice"],
        target_tags=["support"],
        action="allow",
    )


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page(client) -> str:
    response = client.get(PAGE)
    assert response.status_code == 200
    return response.content.decode()


def part(html: str, marker: str, end: str) -> str:
    """The page from ``marker`` to the first ``end`` after it."""
    start_at = html.index(marker)
    return html[start_at : html.index(end, start_at)]


def seen_in(form: str) -> str:
    return re.search(r'name="seen" value="(\w+)"', form).group(1)


def status(target: str, tag: str) -> str:
    node, name = target.split(".")
    return TargetTag.objects.get(target__node__node_id=node, target__name=name, tag=tag).status


def decide(client, target: str, op: str, reason: str = "", seen: str | None = None) -> str:
    node, name = target.split(".")
    pk = Target.objects.get(node__node_id=node, name=name).pk
    body = {"target": pk, "op": op, "reason": reason}
    if seen is not None:
        body["seen"] = seen
    response = client.post(DECIDE, body, follow=True)
    assert response.status_code == 200
    return markup.unescape(part(response.content.decode(), '<ul class="flash">', "</ul>"))


# --- What approving a tag lets happen -----------------------------------------------------


def test_each_pending_tag_names_the_policies_that_match_it_and_whom_they_let_in(
    world, reviewer, alice, bob
):
    carol = get_user_model().objects.create_user("carol", password="pw-carol")
    CallerProfile.objects.create(user=carol, tags=["team:a"])
    html = page(logged_in(reviewer))
    voice = part(html, f'data-target="{VOICE}"', "</form>")

    matching = part(voice, 'data-effect="support:voice"', "</div>")
    assert 'data-policy="team-a-starts-voice"' in matching
    assert "callers tagged <code>team:a</code>" in matching
    assert "key alice (caller), user carol" in matching
    assert "bob" not in matching
    # As the caller tag of the session's tool calls, it reaches the support tool.
    calls = part(matching, 'data-call-policy="voice-sessions-call-support"', "</li>")
    assert TOOL in calls

    unmatched = part(voice, 'data-effect="pii:limited"', "</div>")
    assert "data-policy=" not in unmatched
    assert "approving lets no one in until a policy matches" in unmatched
    assert "No policy names it as a caller tag" in unmatched

    summary = part(voice, f'data-summary="{VOICE}"', "</div>")
    assert "could start it" in summary
    assert "key alice (caller), user carol" in summary and "bob" not in summary
    assert f'<code>{TOOL}</code> <span class="yes">allowed</span>' in summary
    # The tool's own approval revoked: the session could not reach it.
    decide(logged_in(reviewer), TOOL, "revoke|support", reason="closed")
    summary = part(page(logged_in(reviewer)), f'data-summary="{VOICE}"', "</div>")
    assert f'<code>{TOOL}</code> <span class="no">not callable</span>' in summary


def test_a_deny_policy_that_matches_a_tag_is_shown_and_wins_in_who_could_start_it(
    world, reviewer, alice
):
    AccessPolicy.objects.create(
        name="no-pii-for-team-a",
        caller_tags=["team:a"],
        target_tags=["pii:*"],
        action="deny",
        priority=10,
    )
    voice = part(page(logged_in(reviewer)), f'data-target="{VOICE}"', "</form>")
    pii = part(voice, 'data-effect="pii:limited"', "</div>")
    assert 'data-policy="no-pii-for-team-a"' in pii
    assert '<span class="action action-deny">deny</span>' in pii
    assert "key alice (caller)" in pii
    summary = part(voice, f'data-summary="{VOICE}"', "</div>")
    assert "alice" not in summary and "no caller" in summary


@override_settings(AGENTFIELD_DEFAULT_DENY=False)
def test_without_default_deny_an_unmatched_tag_says_that_calls_are_allowed(world, reviewer):
    voice = part(page(logged_in(reviewer)), f'data-target="{VOICE}"', "</form>")
    unmatched = part(voice, 'data-effect="pii:limited"', "</div>")
    assert "a call no policy matches is allowed" in unmatched
    assert "lets no one in" not in unmatched


# --- Revoke and reverse ---------------------------------------------------------------------


@pytest.fixture
def team_a_calls_support(world):
    AccessPolicy.objects.create(
        name="team-a-calls-support", caller_tags=["team:a"], target_tags=["support"], action="allow"
    )


def execute(caller):
    return caller.client().post(f"/api/v1/execute/async/{TOOL}", {"input": {}}, format="json")


def test_revoking_an_approved_tag_needs_a_reason_and_closes_the_target_at_once(
    team_a_calls_support, reviewer, alice
):
    assert execute(alice).status_code == 202  # the access data is read (and cached) here
    client = logged_in(reviewer)
    form = part(page(client), f'data-decided="{TOOL}"', "</form>")
    assert 'value="revoke|support"' in form
    assert 'name="reason" required' in form

    flash = decide(client, TOOL, "revoke|support", reason="  ", seen=seen_in(form))
    assert "a changed decision needs a reason" in flash
    assert status(TOOL, "support") == S.APPROVED
    assert execute(alice).status_code == 202

    flash = decide(client, TOOL, "revoke|support", reason="desk moved", seen=seen_in(form))
    assert f"Revoked support on {TOOL}: it is rejected now" in flash
    refused = execute(alice)
    assert refused.status_code == 403
    assert refused.json()["error"] == "target_tags_rejected"
    decision = TagDecision.objects.filter(tag="support").first()
    assert (decision.decision, decision.actor, decision.reason) == (
        S.REJECTED,
        f"reviewer (user:{reviewer.pk})",
        "desk moved",
    )
    html = page(client)
    assert "desk moved" in part(html, 'class="history"', "</table>")
    form = part(html, f'data-decided="{TOOL}"', "</form>")
    assert 'value="reverse|support"' in form and "revoke|" not in form
    node = Target.objects.get(name="resolve_voice_turn").node
    assert node.status == NodeStatus.READY, "nothing is pending: it is decided, closed"


def test_a_revoked_tag_proposed_again_at_registration_stays_rejected(world, reviewer, admin):
    decide(logged_in(reviewer), TOOL, "revoke|support", reason="desk moved")
    register_approved_node(admin.client(), TOOL_NODE, "http://127.0.0.1:9", ["resolve_voice_turn"])
    assert status(TOOL, "support") == S.REJECTED


def test_a_rejected_tag_is_approved_again_with_a_reason(world, reviewer):
    client = logged_in(reviewer)
    decide(client, VOICE, "rejected|pii:limited", reason="not yet")
    form = part(page(client), f'data-decided="{VOICE}"', "</form>")
    assert 'value="reverse|pii:limited"' in form
    flash = decide(
        client, VOICE, "reverse|pii:limited", reason="legal said yes", seen=seen_in(form)
    )
    assert f"Approved pii:limited on {VOICE} (it was rejected)." in flash
    assert status(VOICE, "pii:limited") == S.APPROVED
    assert [d.decision for d in TagDecision.objects.filter(tag="pii:limited")] == [
        S.APPROVED,
        S.REJECTED,
    ]
    assert "legal said yes" in part(page(client), 'class="history"', "</table>")


def test_a_change_op_on_a_pending_tag_decides_nothing(world, reviewer):
    flash = decide(logged_in(reviewer), VOICE, "reverse|pii:limited", reason="why not")
    assert f"{VOICE} has no decided tag 'pii:limited'." in flash
    assert status(VOICE, "pii:limited") == S.PENDING


def test_a_form_sent_without_a_pressed_button_decides_nothing(world, reviewer):
    """What Enter would send if a browser ignored the disabled default button."""
    flash = decide(logged_in(reviewer), VOICE, "", reason="looks fine")
    assert "Choose approve or reject" in flash
    assert not TagDecision.objects.filter(target__name="voice").exists()


def test_revoking_a_session_tag_refuses_new_starts_and_leaves_live_calls_as_re_approval_does(
    world, reviewer, admin, alice
):
    # Re-approval (a changed definition, decision 0015) ends no live call either: the
    # target takes no new starts, a session started before keeps its tags.
    decide(logged_in(reviewer), VOICE, "approved|*")
    started = start(alice.client())
    assert started.status_code == 201, started.content
    decide(logged_in(reviewer), VOICE, "revoke|support:voice", reason="pilot over")
    live = SessionInstance.objects.get(session_id=started.json()["session_id"])
    assert live.status == "created" and "support:voice" in live.tags
    refused = start(alice.client())
    assert (refused.status_code, refused.json()["error"]) == (403, "target_tags_rejected")


# --- After the last approval ----------------------------------------------------------------


def test_after_the_last_approval_the_page_links_to_try_the_targets(world, reviewer):
    client = logged_in(reviewer)
    assert "data-ready" not in page(client), "something is still pending"
    flash = decide(client, VOICE, "approved|*", reason="pilot")
    assert "It is callable now" in flash
    html = page(client)
    ready = part(html, "data-ready", "</div>")
    assert f'href="/sessions/{VOICE}/"' in ready
    assert f"POST /api/v1/execute/{TOOL}" in ready and 'href="/api/docs/"' in ready
    form = part(html, f'data-decided="{VOICE}"', "</form>")
    assert f'class="try" href="/sessions/{VOICE}/"' in form


def test_a_target_approved_while_others_wait_gets_its_link_but_no_ready_banner(
    world, reviewer, admin
):
    body = node_body("other-node", reasoners=[{"id": "later", "tags": ["later"]}], sessions=[])
    assert admin.client().post("/api/v1/nodes/register", body, format="json").status_code == 201
    client = logged_in(reviewer)
    decide(client, VOICE, "approved|*")
    html = page(client)
    assert "data-ready" not in html
    assert f'class="try" href="/sessions/{VOICE}/"' in part(
        html, f'data-decided="{VOICE}"', "</form>"
    )


# --- Who may --------------------------------------------------------------------------------


def test_a_non_admin_can_neither_see_nor_change_decisions(world):
    caller = get_user_model().objects.create_user("dana", password="pw-dana", is_staff=True)
    CallerProfile.objects.create(user=caller, tags=["team:a"])
    pk = Target.objects.get(name="resolve_voice_turn").pk
    anonymous = Client().post(DECIDE, {"target": pk, "op": "revoke|support", "reason": "x"})
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/")
    client = logged_in(caller)
    assert client.get(PAGE).status_code == 403
    for op in ("revoke|support", "approved|*"):
        response = client.post(DECIDE, {"target": pk, "op": op, "reason": "mine now"})
        assert response.status_code == 403
    assert status(TOOL, "support") == S.APPROVED
    assert not TagDecision.objects.filter(actor__contains="dana").exists()


def test_two_admins_see_each_others_decisions_and_a_stale_form_decides_nothing(world, reviewer):
    other = get_user_model().objects.create_user("ops2", password="pw-2", is_superuser=True)
    first, second = logged_in(reviewer), logged_in(other)
    stale = page(first)
    stale_voice = part(stale, f'data-target="{VOICE}"', "</form>")
    stale_tool = part(stale, f'data-decided="{TOOL}"', "</form>")

    decide(second, VOICE, "approved|pii:limited", reason="ok by legal")
    flash = decide(first, VOICE, "approved|*", reason="all fine", seen=seen_in(stale_voice))
    assert f"{VOICE} was decided by another admin since this page was loaded" in flash
    assert status(VOICE, "support:voice") == S.PENDING

    decide(second, TOOL, "revoke|support", reason="desk moved")
    flash = decide(first, TOOL, "revoke|support", reason="same", seen=seen_in(stale_tool))
    assert f"Nothing changed: support on {TOOL} was already rejected." in flash
    assert TagDecision.objects.filter(tag="support", decision=S.REJECTED).count() == 1

    fresh = page(first)
    assert fresh.count("ops2 (user:") >= 2, "the history shows the other admin's decisions"
    tool = part(fresh, f'data-decided="{TOOL}"', "</form>")
    assert "rejected by ops2" in tool and "desk moved" in tool
    voice = part(fresh, f'data-decided="{VOICE}"', "</form>")
    assert "approved by ops2" in voice and 'value="revoke|pii:limited"' in voice


# --- The REST route: POST /api/v1/admin/agents/<id>/tag-decision --------------------------


def change(caller, node: str, **body):
    url = f"/api/v1/admin/agents/{node}/tag-decision"
    return caller.client().post(url, body, format="json")


def test_the_api_revokes_a_tag_and_the_caller_is_refused_at_once(
    team_a_calls_support, admin, alice
):
    assert execute(alice).status_code == 202
    body = {"target": "resolve_voice_turn", "tag": "support", "decision": "rejected"}
    response = change(admin, TOOL_NODE, **body, reason="incident 7")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "success": True,
        "message": "Tag decision changed",
        "agent_id": TOOL_NODE,
        "target": TOOL,
        "kind": "reasoner",
        "tag": "support",
        "status": "rejected",
        "changed": True,
        "callable": False,
    }
    refused = execute(alice)
    assert (refused.status_code, refused.json()["error"]) == (403, "target_tags_rejected")
    decision = TagDecision.objects.filter(tag="support").first()
    assert (decision.decision, decision.reason) == (S.REJECTED, "incident 7")
    assert decision.actor.endswith(f"(key:{admin.key.pk})")
    again = change(admin, TOOL_NODE, **body, reason="incident 7")
    assert again.json()["changed"] is False and again.json()["message"] == "Nothing changed"

    body["decision"] = "approved"
    assert change(admin, TOOL_NODE, **body, reason="fixed").json()["callable"] is True
    assert execute(alice).status_code == 202


def test_the_api_route_is_strict_and_admin_only(world, admin, alice, agent):
    body = {"target": "resolve_voice_turn", "tag": "support", "decision": "rejected"}
    for caller in (alice, agent):
        assert change(caller, TOOL_NODE, **body, reason="x").status_code == 403
    missing = change(admin, TOOL_NODE, **body)
    assert missing.status_code == 400 and "reason" in missing.json()["fields"]
    blank = change(admin, TOOL_NODE, **body, reason="   ")
    assert blank.status_code == 400
    unknown = change(admin, TOOL_NODE, **body, reason="x", approved_tags=["support"])
    assert unknown.status_code == 400
    wrong = change(admin, TOOL_NODE, **{**body, "decision": "pending"}, reason="x")
    assert wrong.status_code == 400
    assert change(admin, "no-such-node", **body, reason="x").status_code == 404
    other = {**body, "target": "nothing-here"}
    assert change(admin, TOOL_NODE, **other, reason="x").status_code == 404
    pending = {"target": "voice", "tag": "pii:limited", "decision": "approved"}
    refused = change(admin, VOICE_NODE, **pending, reason="x")
    assert (refused.status_code, refused.json()["error"]) == (409, "tag_not_decided")
    assert status(VOICE, "pii:limited") == S.PENDING
    assert status(TOOL, "support") == S.APPROVED
    assert not TagDecision.objects.filter(reason="x").exists()
