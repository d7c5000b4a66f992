"""The overview in Chromium: its status refreshes itself from the page's own URL (a script
file, under the Content-Security-Policy), so a decision made elsewhere shows up."""

from __future__ import annotations

import threading

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from access_app.models import Target
from access_app.services.approvals import target_tags_decide
from tests.browser import chromium_page, csp_violations, wait_until
from tests.factories import node_body, session_def
from tests.servers import daphne_server

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

APPROVE_STATE = "document.querySelector('[data-step=approve]').dataset.state"
PENDING_FIGURE = "document.querySelector('[data-stat=pending] .stat-figure').textContent.trim()"


def approve_everything_pending() -> None:
    """From another thread: Playwright's event loop runs in this one, where the ORM may
    not be used."""

    def approve() -> None:
        for target in Target.objects.filter(node__node_id="intake"):
            target_tags_decide(target=target, decision="approved", actor="test")

    worker = threading.Thread(target=approve)
    worker.start()
    worker.join()


def test_the_status_follows_a_decision_made_elsewhere(admin):
    body = node_body("intake", reasoners=[], sessions=[session_def("desk", tags=["team:x"])])
    assert admin.client().post("/api/v1/nodes/register", body, format="json").status_code == 201
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("ops", password="pw-1234567"))
    cookie = client.cookies["sessionid"].value
    with daphne_server("overview") as server, chromium_page() as page:
        violations = csp_violations(page)
        page.context.add_cookies([{"name": "sessionid", "value": cookie, "url": server.base_url}])
        page.goto(server.base_url + "/")
        assert page.evaluate(APPROVE_STATE) == "todo"
        assert page.evaluate(PENDING_FIGURE) == "1"
        assert "/sessions/intake.desk/" not in page.content()
        page.evaluate("window.notReloaded = true")
        approve_everything_pending()
        page.evaluate("window.dispatchEvent(new Event('focus'))")  # or the 15 s timer
        wait_until(page, f"{APPROVE_STATE} === 'done'", timeout=20)
        assert page.evaluate(PENDING_FIGURE) == "0"
        assert 'href="/sessions/intake.desk/"' in page.content()  # now startable
        assert page.evaluate("window.notReloaded") is True  # swapped in place
    assert violations == []
