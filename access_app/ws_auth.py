"""WebSocket authentication and origin checks for the Channels router.

``scope["principal"]`` is the :class:`Principal` from an API key header, else from the
Django login, else None. Keys are never taken from the query string: daphne's access log
records full URLs. Consumers decide what they accept.
"""

from __future__ import annotations

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.security.websocket import OriginValidator
from django.conf import settings

from access_app.authentication import credential_from_headers
from access_app.principals import Principal
from access_app.services.api_keys import api_key_authenticate


def _scope_headers(scope) -> dict[str, str]:
    return {
        name.decode("latin1").lower(): value.decode("latin1") for name, value in scope["headers"]
    }


@database_sync_to_async
def _principal_for(credential: str | None, user) -> Principal | None:
    if credential:
        key = api_key_authenticate(credential)
        return Principal.from_api_key(key) if key else None
    if user is not None and user.is_authenticated:
        return Principal.from_user(user)
    return None


class PrincipalMiddleware:
    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        headers = _scope_headers(scope)
        credential = credential_from_headers(headers)
        principal = await _principal_for(credential, scope.get("user"))
        return await self.inner(dict(scope, principal=principal), receive, send)


def PrincipalMiddlewareStack(inner):
    return AuthMiddlewareStack(PrincipalMiddleware(inner))


class BrowserOriginValidator(OriginValidator):
    """Reject cross-site browser connections; allow clients that send no Origin at all.

    Channels' ``AllowedHostsOriginValidator`` refuses a missing Origin, which would lock out
    every server-side client (agent links, realtime WebSocket clients). Origin exists to
    stop a foreign page riding a user's cookies, and only browsers send it.
    """

    def valid_origin(self, parsed_origin) -> bool:
        if parsed_origin is None:
            return True
        return self.validate_origin(parsed_origin)


def origin_validator(inner):
    allowed = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not allowed:
        allowed = ["localhost", "127.0.0.1", "[::1]"]
    return BrowserOriginValidator(inner, allowed)
