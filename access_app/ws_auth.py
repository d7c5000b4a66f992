"""WebSocket authentication and origin checks for the Channels router.

``scope["principal"]`` is the :class:`Principal` from an API key header, else from the
Django login, else None. Keys are never taken from the query string: daphne's access log
records full URLs. Consumers decide what they accept.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.utils.http import is_same_domain

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


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def _origin_tuple(scheme: str, netloc: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) with the default port filled in; None if ``netloc`` is no host."""
    host, port = split_domain_port(netloc)
    if not host:
        return None
    try:
        number = int(port) if port else _default_port(scheme)
    except ValueError:
        return None
    return scheme, host, number


def _handshake_scheme(scope, headers: dict[str, str]) -> str:
    """``https`` for wss (or Django's ``SECURE_PROXY_SSL_HEADER`` saying so), else ``http``."""
    if scope.get("scheme") in ("wss", "https"):
        return "https"
    proxy = settings.SECURE_PROXY_SSL_HEADER
    if proxy:
        meta_name, secure_value = proxy
        name = meta_name.removeprefix("HTTP_").replace("_", "-").lower()
        if headers.get(name, "").split(",", 1)[0].strip() == secure_value:
            return "https"
    return "http"


def _allowed_hosts() -> list[str]:
    allowed = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    return allowed


def _trusted(origin: tuple[str, str, int]) -> bool:
    """``CSRF_TRUSTED_ORIGINS``, read as Django's CSRF check reads it (``*.`` subdomains)."""
    scheme, host, port = origin
    for trusted in settings.CSRF_TRUSTED_ORIGINS:
        parts = urlsplit(trusted)
        if parts.scheme != scheme:
            continue
        if parts.netloc.startswith("*"):
            pattern = _origin_tuple(scheme, parts.netloc[1:])
            if pattern and pattern[2] == port and is_same_domain(host, pattern[1]):
                return True
        elif _origin_tuple(scheme, parts.netloc) == origin:
            return True
    return False


def origin_allowed(scope) -> bool:
    """Whether a WebSocket handshake's ``Origin`` may ride the browser's cookies.

    No Origin: not a browser (decision 0002). Otherwise the Origin must be this server's
    own origin, compared as scheme, host and port (ws is http, wss is https, default ports
    filled in), for a host in ``ALLOWED_HOSTS``; or one of ``CSRF_TRUSTED_ORIGINS``. It is
    the rule Django's CSRF check applies to a form post (decision 0018).
    """
    headers = _scope_headers(scope)
    raw = headers.get("origin")
    if raw is None:
        return True
    parts = urlsplit(raw.strip().lower())
    if parts.scheme not in ("http", "https") or parts.path or parts.query:
        return False  # "null" (sandboxed frames, file: pages) and anything unparsable
    origin = _origin_tuple(parts.scheme, parts.netloc)
    if origin is None:
        return False
    if _trusted(origin):
        return True
    host_header = headers.get("host", "").strip().lower()
    own = _origin_tuple(_handshake_scheme(scope, headers), host_header)
    if own is None or not validate_host(own[1], _allowed_hosts()):
        return False
    return own == origin


class BrowserOriginValidator:
    """Refuse WebSocket handshakes whose Origin is not ours (see :func:`origin_allowed`)."""

    def __init__(self, inner) -> None:
        self.inner = inner

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not origin_allowed(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.inner(scope, receive, send)


def origin_validator(inner):
    return BrowserOriginValidator(inner)
