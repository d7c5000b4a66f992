"""The ASGI WebSocket stack: origin check, then the principal from a key or a login."""

import pytest
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.urls import path

from access_app.ws_auth import PrincipalMiddlewareStack, origin_allowed, origin_validator

pytestmark = pytest.mark.django_db(transaction=True)


class WhoAmI(AsyncJsonWebsocketConsumer):
    async def connect(self):
        principal = self.scope["principal"]
        if principal is None:
            await self.close(code=4401)
            return
        await self.accept()
        await self.send_json({"id": principal.id, "role": principal.role})


app = origin_validator(PrincipalMiddlewareStack(URLRouter([path("ws/who", WhoAmI.as_asgi())])))


async def _connect(headers=(), query=""):
    communicator = WebsocketCommunicator(app, "/ws/who" + query, headers=list(headers))
    connected, code = await communicator.connect()
    return communicator, connected, code


async def test_a_server_client_without_origin_authenticates_with_its_key(alice):
    communicator, connected, _ = await _connect([(b"x-api-key", alice.secret.encode())])
    assert connected
    assert await communicator.receive_json_from() == {"id": f"key:{alice.key.pk}", "role": "caller"}
    await communicator.disconnect()


async def test_a_key_in_the_query_string_is_ignored_because_urls_are_logged(alice):
    _, connected, code = await _connect(query=f"?api_key={alice.secret}")
    assert not connected
    assert code == 4401


async def test_a_missing_or_wrong_key_leaves_no_principal(alice):
    _, connected, code = await _connect([(b"x-api-key", b"af_bad_key")])
    assert not connected
    assert code == 4401
    _, connected, code = await _connect()
    assert not connected


async def test_a_foreign_browser_origin_is_refused(alice):
    headers = [(b"x-api-key", alice.secret.encode()), (b"origin", b"https://evil.example")]
    _, connected, _ = await _connect(headers)
    assert not connected


async def test_a_same_host_browser_origin_is_allowed(alice):
    headers = [
        (b"x-api-key", alice.secret.encode()),
        (b"host", b"127.0.0.1:8000"),
        (b"origin", b"http://127.0.0.1:8000"),
    ]
    communicator, connected, _ = await _connect(headers)
    assert connected
    await communicator.disconnect()


def test_a_websocket_to_an_unknown_path_is_refused_cleanly_by_the_real_server(alice):
    """Upstream SDKs open ``/api/v1/memory/events/ws``: a refusal, not a 500 and traceback."""
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    from tests.servers import daphne_server

    with daphne_server("ws-unknown") as server:
        for path, headers in (
            ("/api/v1/memory/events/ws", {"X-API-Key": alice.secret}),
            ("/nowhere", {}),
        ):
            with pytest.raises(InvalidStatus) as refused:
                connect(server.ws_url + path, additional_headers=headers, open_timeout=10)
            assert refused.value.response.status_code == 403
        log = server.log()
    assert "Traceback" not in log and "No route found" not in log, log


def handshake(origin: str | None, host: str = "127.0.0.1:8000", scheme: str = "ws", **headers):
    listed = [(b"host", host.encode())] if host else []
    if origin is not None:
        listed.append((b"origin", origin.encode()))
    listed += [(name.replace("_", "-").encode(), value.encode()) for name, value in headers.items()]
    return {"type": "websocket", "scheme": scheme, "headers": listed}


@pytest.mark.parametrize(
    ("origin", "host", "scheme"),
    [
        ("http://127.0.0.1:8000", "127.0.0.1:8000", "ws"),
        ("http://localhost", "localhost:80", "ws"),  # default ports
        ("https://localhost", "localhost", "wss"),
        ("https://localhost:443", "localhost", "wss"),
        ("http://[::1]:8000", "[::1]:8000", "ws"),
    ],
)
def test_the_origin_rule_admits_our_own_scheme_host_and_port(origin, host, scheme):
    assert origin_allowed(handshake(origin, host, scheme))


@pytest.mark.parametrize(
    ("origin", "host", "scheme"),
    [
        ("http://127.0.0.1:9000", "127.0.0.1:8000", "ws"),  # another port of the same host
        ("http://127.0.0.1", "127.0.0.1:8000", "ws"),
        ("https://127.0.0.1:8000", "127.0.0.1:8000", "ws"),  # another scheme
        ("http://localhost:8443", "localhost:8443", "wss"),
        ("http://localhost:8000", "127.0.0.1:8000", "ws"),  # another host name
        ("http://evil.example:8000", "evil.example:8000", "ws"),  # not in ALLOWED_HOSTS
        ("null", "127.0.0.1:8000", "ws"),  # sandboxed frames, file: pages
        ("http://127.0.0.1:8000", "", "ws"),  # no Host to compare with
        ("http://127.0.0.1:8000/x", "127.0.0.1:8000", "ws"),
    ],
)
def test_the_origin_rule_refuses_any_other_scheme_host_or_port(origin, host, scheme):
    assert not origin_allowed(handshake(origin, host, scheme))


def test_no_origin_is_a_server_client_and_passes():
    assert origin_allowed(handshake(None))


def test_the_proxy_ssl_header_makes_a_plain_handshake_https(settings):
    proxied = handshake("https://localhost", "localhost", x_forwarded_proto="https")
    assert not origin_allowed(proxied)
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    assert origin_allowed(proxied)
    assert not origin_allowed(handshake("http://localhost", "localhost", x_forwarded_proto="https"))


def test_csrf_trusted_origins_are_admitted_with_their_port(settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://app.example.com", "https://*.corp.example"]
    assert origin_allowed(handshake("https://app.example.com"))
    assert origin_allowed(handshake("https://app.example.com:443"))
    assert origin_allowed(handshake("https://voice.corp.example"))
    assert not origin_allowed(handshake("https://app.example.com:8443"))
    assert not origin_allowed(handshake("http://app.example.com"))
    assert not origin_allowed(handshake("https://corp.example.evil"))


async def test_a_page_on_another_port_cannot_ride_a_login_cookie(alice):
    headers = [
        (b"x-api-key", alice.secret.encode()),
        (b"host", b"127.0.0.1:8000"),
        (b"origin", b"http://127.0.0.1:8001"),
    ]
    _, connected, _ = await _connect(headers)
    assert not connected
