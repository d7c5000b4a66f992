"""The realtime WebSocket from a real browser (headless Chromium, loopback only): a page of
this server's own origin opens it with the client secret as a subprotocol, under the
page's Content-Security-Policy; a page served from another port of the same host cannot
open it, with a logged-in admin's cookie or without."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import Client

from tests.browser import chromium_page, csp_violations
from tests.servers import daphne_server
from tests.sessions_app.helpers import session_world, start

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Resolves with what the socket did: the subprotocol chosen and the first event, or how it
# failed (a refused handshake is an error event then a close, with no message).
OPEN_SOCKET = """
async ([url, protocols]) => await new Promise(resolve => {
  const ws = new WebSocket(url, protocols);
  ws.onmessage = event => {
    resolve({protocol: ws.protocol, first: JSON.parse(event.data).type});
    ws.close();
  };
  ws.onclose = event => resolve({closed: event.code});
  setTimeout(() => resolve({timeout: ws.readyState}), 15000);
})
"""


class BlankPage(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<!doctype html><title>another port</title>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@contextmanager
def page_on_another_port():
    """Someone else's page on 127.0.0.1 (no policy of ours): the attacker's origin."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BlankPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def servers(admin, simulator):
    env = {"OPENAI_API_KEY": "sk-simulator", "OPENAI_BASE_URL": simulator.base_url}
    with daphne_server("realtime-browser", **env) as ours, page_on_another_port() as other:
        yield ours, other


def test_a_same_origin_page_opens_the_socket_with_the_secret_as_a_subprotocol(
    servers, admin, alice
):
    ours, _ = servers
    session_world(admin.client(), transport="websocket")
    session = start(alice.client()).json()
    url = ours.ws_url + f"/api/v1/session-instances/{session['session_id']}/realtime"
    protocols = ["realtime", f"agentfield-client-secret.{session['client_secret']['value']}"]
    with chromium_page() as page:
        violations = csp_violations(page)
        page.goto(ours.base_url + "/admin/login/")
        assert page.evaluate(OPEN_SOCKET, [url, protocols]) == {
            "protocol": "realtime",
            "first": "agentfield.session.active",
        }
        assert violations == []


def test_a_page_on_another_port_cannot_open_it_even_with_an_admins_login(
    servers, admin, django_user_model
):
    ours, other = servers
    session_world(admin.client(), transport="websocket")
    operator = django_user_model.objects.create_superuser("ops", password="pw-ops-12345")
    client = Client()
    client.force_login(operator)
    started = client.post(
        "/api/v1/session-targets/voice-support-af.voice/start", {}, content_type="application/json"
    )
    assert started.status_code == 201, started.content
    url = ours.ws_url + f"/api/v1/session-instances/{started.json()['session_id']}/realtime"
    cookie = {"name": "sessionid", "value": client.cookies["sessionid"].value}
    with chromium_page() as page:
        # the cookie is the admin's on 127.0.0.1 (cookies ignore ports): both pages send it
        page.context.add_cookies([{**cookie, "url": ours.base_url}])
        page.goto(other)
        assert page.evaluate(OPEN_SOCKET, [url, ["realtime"]]) == {"closed": 1006}
        assert "WSREJECT" in ours.log()
        # the same socket from the admin's own origin: the session was there all along
        page.goto(ours.base_url + "/admin/login/")
        opened = page.evaluate(OPEN_SOCKET, [url, ["realtime"]])
        assert opened == {"protocol": "realtime", "first": "agentfield.session.active"}
