"""The pages work in Chromium under their Content-Security-Policy: nothing is blocked."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from tests.browser import CSP_OF_THE_PAGE, chromium_page, csp_violations
from tests.servers import daphne_server

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGES = ["/", "/sessions/", "/access/approvals/", "/admin/", "/admin/access_app/apikey/",
         "/api/docs/"]  # fmt: skip


def test_the_pages_and_the_api_docs_run_with_nothing_blocked():
    user = get_user_model().objects.create_superuser("ops", password="pw-ops-12345")
    client = Client()
    client.force_login(user)
    session = client.cookies["sessionid"].value
    with daphne_server("csp") as server, chromium_page() as page:
        violations = csp_violations(page)
        page.goto(f"{server.base_url}/admin/login/")
        assert "script-src 'self'" in page.evaluate(CSP_OF_THE_PAGE)
        page.context.add_cookies([{"name": "sessionid", "value": session, "url": server.base_url}])
        for path in PAGES:
            page.goto(server.base_url + path)
            page.wait_for_load_state("networkidle")
        page.wait_for_selector("#swagger-ui .info", timeout=20_000)  # the docs rendered
        assert violations == []
