"""The ASGI WebSocket stack: origin check, then the principal from a key or a login."""

import pytest
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.urls import path

from access_app.ws_auth import PrincipalMiddlewareStack, origin_validator

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
    headers = [(b"x-api-key", alice.secret.encode()), (b"origin", b"http://127.0.0.1:8000")]
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
