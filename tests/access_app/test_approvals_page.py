"""The approvals web page: server-rendered forms, staff only; and the Django admin actions."""

import pytest
from django.contrib.auth import get_user_model

from access_app.access import AccessAllowed, access_check
from access_app.models import TagDecision, TagStatus, Target, TargetTag
from tests.access_app.harness import AdminCaller, register_with_lookup_skill
from tests.browser import ARTIFACTS, chromium_page

PAGE = "/access/approvals/"


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_user(
        "reviewer", password="correct-horse-battery", is_staff=True, is_superuser=True
    )


@pytest.fixture
def registered(admin):
    register_with_lookup_skill(admin)


def _session():
    return Target.objects.prefetch_related("tag_rows").get(kind="session", name="voice")


@pytest.mark.django_db
def test_it_sends_anonymous_users_to_the_login_and_refuses_non_admins(client, registered):
    response = client.get(PAGE)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    user = get_user_model().objects.create_user("plain", password="pw-plain-123")
    client.force_login(user)
    assert client.get(PAGE).status_code == 403
    staff_only = get_user_model().objects.create_user("desk", password="pw-desk-123", is_staff=True)
    client.force_login(staff_only)
    assert client.get(PAGE).status_code == 403, "is_staff alone does not decide tags"


@pytest.mark.django_db
def test_it_lists_pending_targets_grouped_by_node_with_kind_and_session_details(
    client, staff, registered
):
    client.force_login(staff)
    html = client.get(PAGE).content.decode()
    assert 'data-node="voice-support-af"' in html
    assert 'data-target="voice-support-af.voice"' in html
    media = '<span class="media" data-media="relay">relay media</span>'
    assert f"openai · webrtc · {media} · gpt-realtime-2" in html  # relay: the default
    for kind in ("reasoner", "skill", "session"):
        assert f"kind-{kind}" in html
    assert 'value="approved|pii:limited"' in html
    assert 'value="rejected|*"' in html


@pytest.mark.django_db
def test_approving_one_tag_records_who_and_why(client, staff, registered):
    client.force_login(staff)
    target = _session()
    response = client.post(
        "/access/approvals/decide",
        {"target": target.pk, "op": "approved|pii:limited", "reason": "needed for callbacks"},
        follow=True,
    )
    assert "Approved pii:limited on voice-support-af.voice." in response.content.decode()
    row = TargetTag.objects.get(target=target, tag="pii:limited")
    assert row.status == TagStatus.APPROVED
    assert row.decided_by == f"reviewer (user:{staff.pk})"
    assert TagDecision.objects.get(tag="pii:limited").reason == "needed for callbacks"
    assert TargetTag.objects.get(target=target, tag="support:voice").status == TagStatus.PENDING
    assert "needed for callbacks" in response.content.decode(), "the history shows the reason"


@pytest.mark.django_db
def test_rejecting_a_whole_target_rejects_all_its_pending_tags(client, staff, registered):
    client.force_login(staff)
    target = _session()
    client.post("/access/approvals/decide", {"target": target.pk, "op": "rejected|*"})
    statuses = set(TargetTag.objects.filter(target=target).values_list("status", flat=True))
    assert statuses == {TagStatus.REJECTED}
    assert access_check(caller=AdminCaller(), target=_session(), input={}).error == (
        "target_tags_rejected"
    )


@pytest.mark.django_db
def test_a_malformed_decision_changes_nothing(client, staff, registered):
    client.force_login(staff)
    target = _session()
    response = client.post(
        "/access/approvals/decide", {"target": target.pk, "op": "maybe|x"}, follow=True
    )
    assert "Choose approve or reject" in response.content.decode()
    assert not TagDecision.objects.exists()
    assert (
        client.post("/access/approvals/decide", {"target": 999999, "op": "approved|*"}).status_code
        == 404
    )


@pytest.mark.django_db
def test_the_django_admin_approves_and_rejects_tags_with_actions(client, staff, registered):
    client.force_login(staff)
    target = _session()
    rows = TargetTag.objects.filter(target=target)
    response = client.post(
        "/admin/access_app/targettag/",
        {"action": "approve_tags", "_selected_action": [r.pk for r in rows]},
        follow=True,
    )
    assert response.status_code == 200
    assert set(rows.values_list("status", flat=True)) == {TagStatus.APPROVED}
    # Its tags approved, the session's definition (what it reaches) still waits.
    assert access_check(caller=AdminCaller(), target=_session(), input={}).status == 503
    response = client.post(
        "/admin/access_app/target/",
        {"action": "approve_everything_pending", "_selected_action": [target.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert access_check(caller=AdminCaller(), target=_session(), input={}) == AccessAllowed()
    listing = client.get("/admin/access_app/tagdecision/").content.decode()
    assert "decided in the Django admin" in listing


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_an_admin_approves_a_session_in_a_real_browser_and_it_becomes_callable(
    live_server, staff, registered, monkeypatch
):
    # Playwright's sync API runs an event loop in this thread; the ORM calls below are
    # plain synchronous test code, not async code, so Django's guard can stand down.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with chromium_page() as page:
        page.goto(f"{live_server.url}/admin/login/?next={PAGE}")
        page.fill("#id_username", "reviewer")
        page.fill("#id_password", "correct-horse-battery")
        page.click("input[type=submit]")
        page.wait_for_url(f"**{PAGE}")
        form = page.locator('form.target[data-target="voice-support-af.voice"]')
        assert form.locator("li.pending-tag").count() == 2
        form.locator('input[name="reason"]').fill("voice support is in scope")
        page.screenshot(path=str(ARTIFACTS / "approvals-before.png"), full_page=True)
        form.get_by_role("button", name="Approve all pending").click()
        page.wait_for_selector("ul.flash li")
        assert "Approved pii:limited, support:voice" in page.inner_text("ul.flash")
        row = page.locator('tr[data-target="voice-support-af.voice"]')
        assert row.locator("td.callable .yes").inner_text().strip() == "yes"
        assert row.locator("a.try").get_attribute("href") == "/sessions/voice-support-af.voice/"
        assert page.locator('form.target[data-target="voice-support-af.voice"]').count() == 0
        assert "voice support is in scope" in page.inner_text("table.history")
        page.screenshot(path=str(ARTIFACTS / "approvals-after.png"), full_page=True)
    assert access_check(caller=AdminCaller(), target=_session(), input={}) == AccessAllowed()


# Every submit event the page sees, with the button that sent it; the page does not
# navigate away, so what Enter did is read right after the key press.
RECORD_SUBMITS = """() => {
  window.submits = [];
  document.addEventListener("submit", (event) => {
    window.submits.push(event.submitter ? event.submitter.value : "(no button)");
    event.preventDefault();
  }, true);
}"""


def _log_in(page, url: str) -> None:
    page.goto(f"{url}/admin/login/?next={PAGE}")
    page.fill("#id_username", "reviewer")
    page.fill("#id_password", "correct-horse-battery")
    page.click("input[type=submit]")
    page.wait_for_url(f"**{PAGE}")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_enter_in_a_reason_field_decides_nothing_in_a_real_browser(
    live_server, staff, registered, monkeypatch
):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from access_app.services.approvals import target_tags_decide

    skill = Target.objects.get(name="lookup_order")
    target_tags_decide(target=skill, decision="approved", actor="setup")  # a decided tag
    decisions_before = TagDecision.objects.count()
    with chromium_page() as page:
        _log_in(page, live_server.url)
        page.evaluate(RECORD_SUBMITS)
        pending = page.locator('form.target[data-target="voice-support-af.voice"]')
        reason = pending.locator('input[name="reason"]')
        reason.fill("voice support is in scope")
        reason.press("Enter")
        assert page.evaluate("window.submits") == [], "Enter submitted the pending form"
        decided = page.locator('form.decided[data-decided="voice-support-af.lookup_order"]')
        change = decided.locator('input[name="reason"]')
        change.fill("no longer needed")
        change.press("Enter")
        assert page.evaluate("window.submits") == [], "Enter submitted the decided form"
        # The record sees a real submission: a pressed button sends its own decision.
        pending.get_by_role("button", name="Reject pii:limited").click()
        assert page.evaluate("window.submits") == ["rejected|pii:limited"]
        page.screenshot(path=str(ARTIFACTS / "approvals-enter.png"), full_page=True)

        # Without the record, on a fresh page: Enter, then a button; only the button decides.
        page.reload()
        reason = page.locator(
            'form.target[data-target="voice-support-af.voice"] input[name="reason"]'
        )
        reason.fill("scope ok")
        reason.press("Enter")
        page.get_by_role("button", name="Approve support:voice").click()
        page.wait_for_selector("ul.flash li")
        assert "Approved support:voice on voice-support-af.voice." in page.inner_text("ul.flash")
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path=str(ARTIFACTS / "approvals-390.png"), full_page=True)
        # No wider than the screen: its tables scroll inside their cards.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    new = list(TagDecision.objects.order_by("id")[decisions_before:])
    assert [(d.tag, d.decision) for d in new] == [("support:voice", TagStatus.APPROVED)]
    assert (
        TargetTag.objects.get(target__name="voice", tag="pii:limited").status == TagStatus.PENDING
    )
    assert TargetTag.objects.get(target=skill, tag="orders").status == TagStatus.APPROVED
