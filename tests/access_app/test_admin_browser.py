"""The admin's new pages in Chromium, under the site's Content-Security-Policy: an API key
created (its secret on the page once), revoked with the button, a policy typed as lists,
the sessions and executions lists. Screenshots go to test-artifacts/."""

from __future__ import annotations

import httpx
import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from access_app.models import AccessPolicy, ApiKey
from tests.browser import ARTIFACTS, chromium_page, csp_violations
from tests.servers import daphne_server

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
# Playwright's sync API runs an event loop in this thread, so the database is read after
# the browser closes, and the API is asked over HTTP.


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"admin-{name}.png"), full_page=True)


def test_an_admin_creates_and_revokes_a_key_and_types_a_policy_in_the_browser():
    user = get_user_model().objects.create_superuser("ops", password="pw-ops-12345")
    client = Client()
    client.force_login(user)
    session = client.cookies["sessionid"].value
    with daphne_server("admin") as server, chromium_page() as page:
        violations = csp_violations(page)
        page.context.add_cookies([{"name": "sessionid", "value": session, "url": server.base_url}])

        page.goto(f"{server.base_url}/admin/")
        assert page.locator("#site-name").inner_text().startswith("AgentField Sessions")
        shot(page, "index")

        page.goto(f"{server.base_url}/admin/access_app/apikey/add/")
        page.fill("#id_name", "browser-app")
        page.select_option("#id_role", "caller")
        page.fill("#id_tags", "team:a\nTier:Gold")
        shot(page, "key-add")
        page.click("input[name=_save]")
        secret = page.locator("#api-key-secret").inner_text().strip()
        shot(page, "key-created")
        me = httpx.get(f"{server.base_url}/api/v1/me", headers={"X-API-Key": secret})
        assert me.status_code == 200 and sorted(me.json()["tags"]) == ["team:a", "tier:gold"]

        page.click("text=Open the key")
        assert secret not in page.content()
        page.click("#revoke-key")
        shot(page, "key-revoke")
        page.click("input[value='Yes, revoke it']")
        page.wait_for_selector("text=was revoked")
        shot(page, "key-revoked")
        me = httpx.get(f"{server.base_url}/api/v1/me", headers={"X-API-Key": secret})
        assert me.status_code == 401

        page.goto(f"{server.base_url}/admin/access_app/accesspolicy/add/")
        page.fill("#id_name", "team-a-orders")
        page.fill("#id_caller_tags", "team:a, team:ops*")
        page.fill("#id_target_tags", "orders")
        page.select_option("#id_action", "allow")
        page.fill("#id_constraints", "amount <= 100")
        page.click("input[name=_save]")
        page.wait_for_selector("text=was added successfully")
        page.click("text=team-a-orders")
        assert page.input_value("#id_caller_tags") == "team:a\nteam:ops*"
        shot(page, "policy")

        for name, path in (
            ("sessions", "/admin/sessions_app/sessioninstance/"),
            ("executions", "/admin/executions_app/execution/"),
        ):
            response = page.goto(server.base_url + path)
            assert response is not None and response.status == 200
            shot(page, name)
        assert violations == []
    key = ApiKey.objects.get(name="browser-app")
    assert key.tags == ["team:a", "tier:gold"] and key.revoked_at is not None
    policy = AccessPolicy.objects.get(name="team-a-orders")
    assert policy.caller_tags == ["team:a", "team:ops*"]
    assert policy.constraints == {"amount": {"operator": "<=", "value": 100}}
