"""The product's sign-in (decision 0031): a password login for callers and superusers, a
sign-in with an API key, logout, the nav per role, the branded 404/403 pages and the
provider-simulator banner."""

from __future__ import annotations

import ipaddress
import secrets

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from access_app.models import CallerProfile
from access_app.principals import SESSION_API_KEY
from access_app.services.api_keys import api_key_revoke
from access_app.services.login_throttle import refused_message
from sessions_app.models import SessionInstance
from tests.sessions_app.helpers import VOICE_NODE, session_world

pytestmark = pytest.mark.django_db

START = f"/api/v1/session-targets/{VOICE_NODE}.voice/start"
VOICE_PAGE = f"/sessions/{VOICE_NODE}.voice/"


def fresh_address() -> str:
    """An address no earlier run counted failures for (the counts may outlive a run)."""
    return str(ipaddress.IPv6Address("2001:db8:1::") + secrets.randbits(64))


@pytest.fixture
def world(admin):
    session_world(admin.client())


@pytest.fixture
def carol(db):
    user = get_user_model().objects.create_user("carol", password="pw-carol-12345")
    CallerProfile.objects.create(user=user, tags=["team:a"])
    return user


@pytest.fixture
def root(db):
    return get_user_model().objects.create_superuser("root", password="pw-root-12345")


def browser(address: str | None = None) -> Client:
    """A client that sends CSRF tokens as a browser does: the cookie and the form field."""
    return Client(enforce_csrf_checks=True, REMOTE_ADDR=address or fresh_address())


def csrf_of(client: Client) -> str:
    client.get("/login/")
    return client.cookies["csrftoken"].value


def password_login(client: Client, username: str, password: str, next_url: str = ""):
    body = {"username": username, "password": password, "csrfmiddlewaretoken": csrf_of(client)}
    return client.post("/login/" + (f"?next={next_url}" if next_url else ""), body)


def key_login(client: Client, secret: str, next_url: str = ""):
    body = {"api_key": secret, "next": next_url, "csrfmiddlewaretoken": csrf_of(client)}
    return client.post("/login/key", body)


# --- Password login -----------------------------------------------------------------------


def test_anonymous_page_visits_go_to_the_product_login(world):
    for url in ["/sessions/", VOICE_PAGE, "/session-instances/x/", "/access/approvals/"]:
        response = Client().get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/?next=")
    page = Client().get("/login/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Sign in to AgentField Sessions" in html
    assert 'id="password-login"' in html and 'id="key-login"' in html


def test_a_caller_signs_in_and_lands_on_next(world, carol):
    client = browser()
    response = password_login(client, "carol", "pw-carol-12345", "/sessions/")
    assert response.status_code == 302 and response["Location"] == "/sessions/"
    page = client.get("/sessions/")
    assert f'data-target="{VOICE_NODE}.voice"' in page.content.decode()
    assert 'id="signed-in-as">carol<' in page.content.decode()


def test_a_wrong_password_is_refused_on_the_form(carol):
    client = browser()
    response = password_login(client, "carol", "not-it")
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()
    assert client.get("/sessions/").status_code == 302


def test_next_pointing_elsewhere_lands_on_the_overview(carol):
    for target in ["https://evil.example/", "//evil.example/x", "http://testserver.evil/"]:
        response = password_login(browser(), "carol", "pw-carol-12345", target)
        assert response.status_code == 302
        assert response["Location"] == "/", target


def test_a_user_without_a_caller_profile_is_told_why(db):
    get_user_model().objects.create_user("plain", password="pw-plain-12345")
    response = password_login(browser(), "plain", "pw-plain-12345")
    assert response.status_code == 200
    assert "no caller profile" in response.content.decode()


def test_failed_logins_lock_the_product_login_out_too(carol, settings):
    settings.AGENTFIELD_LOGIN_MAX_FAILURES = 3
    address = fresh_address()
    for _ in range(3):
        assert password_login(browser(address), "carol", "wrong").status_code == 200
    refused = password_login(browser(address), "carol", "pw-carol-12345")
    assert refused.status_code == 200
    assert refused_message() in refused.content.decode()
    # elsewhere, the right password still works
    assert password_login(browser(), "carol", "pw-carol-12345").status_code == 302


def test_a_password_login_after_a_key_sign_in_acts_as_the_user(carol, alice):
    client = browser()
    key_login(client, alice.secret)
    password_login(client, "carol", "pw-carol-12345")
    assert SESSION_API_KEY not in client.session
    assert 'id="signed-in-as">carol<' in client.get("/sessions/").content.decode()


def test_logout_is_a_post_back_to_the_overview(carol):
    client = browser()
    password_login(client, "carol", "pw-carol-12345")
    token = client.cookies["csrftoken"].value
    response = client.post("/logout/", {"csrfmiddlewaretoken": token})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/sessions/").status_code == 302


def test_the_admins_own_login_still_works_for_staff(root):
    client = Client()
    response = client.post(
        "/admin/login/?next=/admin/", {"username": "root", "password": "pw-root-12345"}
    )
    assert response.status_code == 302 and response["Location"] == "/admin/"


# --- Sign in with an API key ---------------------------------------------------------------


def test_a_caller_key_signs_in_uses_the_pages_and_starts_a_session_with_csrf(world, alice, bob):
    client = browser()
    response = key_login(client, alice.secret, VOICE_PAGE)
    assert response.status_code == 302 and response["Location"] == VOICE_PAGE
    session = client.session
    assert dict(session.items()) == {SESSION_API_KEY: alice.key.pk}
    assert alice.secret not in str(session.load())  # the secret is never stored
    page = client.get(VOICE_PAGE)
    assert page.status_code == 200 and 'id="voice-config"' in page.content.decode()
    assert "API key alice" in page.content.decode()

    # the voice page's own call: needs the CSRF header, then acts as the key
    assert client.post(START, {}, content_type="application/json").status_code == 403
    token = client.cookies["csrftoken"].value
    started = client.post(START, {}, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert started.status_code == 201, started.content
    row = SessionInstance.objects.get(session_id=started.json()["session_id"])
    assert row.owner == f"key:{alice.key.pk}"
    replay = f"/session-instances/{row.session_id}/"
    assert client.get(replay).status_code == 200
    # another caller's browser sees the same 404 as for nothing at all
    other = browser()
    key_login(other, bob.secret)
    assert other.get(replay).status_code == 404
    assert other.get(VOICE_PAGE).status_code == 404


def test_revoking_the_key_signs_the_browser_out(world, alice):
    client = browser()
    key_login(client, alice.secret)
    assert client.get("/sessions/").status_code == 200
    api_key_revoke(key=alice.key)
    response = client.get("/sessions/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    token = client.cookies["csrftoken"].value
    refused = client.post(START, {}, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert refused.status_code == 401
    assert SESSION_API_KEY not in client.session


def test_an_agent_key_is_refused_with_a_clear_message(make_caller):
    agent = make_caller("agent", node_id="support")
    client = browser()
    response = key_login(client, agent.secret)
    assert response.status_code == 400
    assert "agent keys cannot sign in" in response.content.decode()
    assert SESSION_API_KEY not in client.session
    assert client.get("/sessions/").status_code == 302


def test_an_unknown_key_is_refused_and_counted(db, settings):
    settings.AGENTFIELD_LOGIN_MAX_FAILURES = 2
    address = fresh_address()
    for _ in range(2):
        response = key_login(browser(address), "af_00000000_nope")
        assert "not valid" in response.content.decode()
    assert refused_message() in key_login(browser(address), "af_0_x").content.decode()


# --- The frame: nav per role, the badge, error pages, the simulator banner ------------------


def test_a_caller_sees_no_approvals_or_admin_link(world, carol, alice):
    by_password = browser()
    password_login(by_password, "carol", "pw-carol-12345")
    by_key = browser()
    key_login(by_key, alice.secret)
    for client in (by_password, by_key):
        html = client.get("/sessions/").content.decode()
        assert 'id="logout"' in html
        assert 'href="/access/approvals/"' not in html and 'href="/admin/"' not in html
        forbidden = client.get("/access/approvals/")
        assert forbidden.status_code == 403
        assert 'id="error-403"' in forbidden.content.decode()
        assert "Back to the overview" in forbidden.content.decode()


def test_an_admin_sees_approvals_with_the_pending_count(admin, root):
    from tests.sessions_app.helpers import register_voice_node

    client = Client()
    client.force_login(root)
    html = client.get("/sessions/").content.decode()
    assert 'id="nav-approvals"' in html and 'id="nav-admin"' in html
    assert "nav-count" not in html  # nothing pending
    register_voice_node(admin.client(), approve=False)  # one session target, tags pending
    html = client.get("/sessions/").content.decode()
    assert '<span class="count nav-count" title="targets waiting for a decision">1</span>' in html
    # an admin key signed in: Approvals, no Django admin (it takes a staff login)
    by_key = browser()
    key_login(by_key, admin.secret)
    html = by_key.get("/sessions/").content.decode()
    assert 'id="nav-approvals"' in html and 'id="nav-admin"' not in html
    assert by_key.get("/access/approvals/").status_code == 200


def test_the_404_page_is_branded_with_a_way_back_and_the_api_keeps_json(carol):
    client = Client()
    client.force_login(carol)
    page = client.get("/no/such/page/")
    assert page.status_code == 404
    html = page.content.decode()
    assert 'id="error-404"' in html and "Back to the overview" in html
    assert "AgentField <span>Sessions</span>" in html
    api = client.get("/api/v1/no-such-route")
    assert api.status_code == 404 and api.json()["error"] == "not_found"


def test_the_csrf_failure_page_is_branded(carol):
    response = browser().post("/login/", {"username": "carol", "password": "pw-carol-12345"})
    assert response.status_code == 403
    assert 'id="error-403-csrf"' in response.content.decode()


def test_pages_say_when_the_provider_simulator_answers(settings, carol):
    client = Client()
    client.force_login(carol)
    settings.AGENTFIELD_PROVIDER_SIMULATOR = False
    assert 'id="provider-simulator"' not in client.get("/sessions/").content.decode()
    settings.AGENTFIELD_PROVIDER_SIMULATOR = True
    for url in ["/sessions/", "/login/", "/no/such/page/"]:
        html = client.get(url).content.decode()
        assert 'id="provider-simulator"' in html, url
        assert "answered by the local simulator, not by OpenAI" in html


# --- Real Chromium ------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_caller_signs_in_in_a_real_browser_and_sees_sessions_but_no_admin_links(
    live_server, admin, monkeypatch
):
    from tests.browser import ARTIFACTS, chromium_page, csp_violations

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's loop; ORM is sync
    session_world(admin.client())
    user = get_user_model().objects.create_user("dana", password="pw-dana-12345")
    CallerProfile.objects.create(user=user, tags=["team:a"])
    with chromium_page() as page:
        blocked = csp_violations(page)
        page.goto(f"{live_server.url}/sessions/")
        page.wait_for_url("**/login/?next=/sessions/")
        page.fill("#id_username", "dana")
        page.fill("#id_password", "pw-dana-12345")
        page.screenshot(path=str(ARTIFACTS / "login.png"), full_page=True)
        page.click("#password-login button[type=submit]")
        page.wait_for_url(f"{live_server.url}/sessions/")
        nav = page.locator("#site-nav")
        assert nav.get_by_role("link", name="Sessions").is_visible()
        assert nav.get_by_role("link", name="Approvals").count() == 0
        assert nav.get_by_role("link", name="Admin").count() == 0
        assert page.inner_text("#signed-in-as") == "dana"
        assert page.locator(f'[data-target="{VOICE_NODE}.voice"]').count() == 1
        page.screenshot(path=str(ARTIFACTS / "sessions-as-caller.png"), full_page=True)

        # on a phone the links fold under "Menu", and the page is no wider than the screen
        page.set_viewport_size({"width": 390, "height": 844})
        assert not nav.is_visible()
        page.click("label.nav-toggle-label")
        assert nav.get_by_role("link", name="Sessions").is_visible()
        assert page.evaluate("document.querySelector('.topbar').scrollWidth") <= 390
        page.screenshot(path=str(ARTIFACTS / "sessions-as-caller-390.png"), full_page=True)

        page.click("#logout")
        page.wait_for_url(f"{live_server.url}/")
        assert page.locator("#nav-login").count() == 1
        assert blocked == []
