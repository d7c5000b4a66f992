"""DRF authentication: API keys (``X-API-Key`` or ``Authorization: Bearer``) and browser
logins (a Django user, or an API key signed in through the login page).

Both produce a :class:`Principal` as ``request.user``, so views never care which one it was.
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from access_app.principals import Principal, session_api_key
from access_app.services.api_keys import api_key_authenticate


def credential_from_headers(headers) -> str | None:
    """The key from ``X-API-Key``, else from ``Authorization: Bearer``; None if absent."""
    key = headers.get("X-API-Key") or headers.get("x-api-key")
    if key:
        return key.strip()
    auth = headers.get("Authorization") or headers.get("authorization") or ""
    scheme, _, token = auth.strip().partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        credential = credential_from_headers(request.headers)
        if credential is None:
            return None
        key = api_key_authenticate(credential)
        if key is None:
            raise exceptions.AuthenticationFailed()
        return Principal.from_api_key(key), key

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (not 403) when credentials are missing.
        return 'Bearer realm="api"'


class LoginSessionAuthentication(authentication.SessionAuthentication):
    """The browser pages' API calls (cookie + CSRF): a Django login, or an API key signed
    in through the login page (only its pk is in the session, re-checked here: decision
    0031). Either way the call acts as the same principal as the page."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None:
            user, auth = result
            return Principal.from_user(user), auth
        key = session_api_key(request._request)
        if key is None:
            return None
        self.enforce_csrf(request)
        return Principal.from_api_key(key), key


class ApiKeySchema(OpenApiAuthenticationExtension):
    target_class = "access_app.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "X-API-Key"}


class LoginSessionSchema(OpenApiAuthenticationExtension):
    target_class = "access_app.authentication.LoginSessionAuthentication"
    name = "cookieAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}
