"""A session's client secret as a credential, for that one session's routes only.

The principal it yields has the role ``session_client`` and carries the session id; the
session selectors let it see that session and nothing else, and it expires with it. It
also dies with the API key that started the session: a revoked starter's secrets are
refused (decision 0018).
"""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from access_app.authentication import credential_from_headers
from access_app.principals import Principal
from access_app.selectors import api_key_is_active
from sessions_app.models import SessionInstance, hash_client_secret
from sessions_app.selectors import SESSION_CLIENT_ROLE
from sessions_app.services.starting import CLIENT_SECRET_PREFIX


def session_client_principal(secret: str) -> Principal | None:
    session = (
        SessionInstance.objects.filter(client_secret_hash=hash_client_secret(secret))
        .only("session_id", "client_secret_expires_at", "status", "owner")
        .first()
    )
    if session is None or session.client_secret_expires_at <= timezone.now():
        return None
    if not session.is_live:
        return None
    kind, _, key_id = session.owner.partition(":")
    if kind == "key" and not (key_id.isdigit() and api_key_is_active(int(key_id))):
        return None
    return Principal(
        id=f"session:{session.session_id}",
        role=SESSION_CLIENT_ROLE,
        session_id=session.session_id,
        on_behalf_of=session.owner,
        name=f"client of {session.session_id}",
    )


class ClientSecretAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer cs_…``; other credentials are left to the API-key class."""

    def authenticate(self, request):
        credential = credential_from_headers(request.headers)
        if not credential or not credential.startswith(CLIENT_SECRET_PREFIX):
            return None
        principal = session_client_principal(credential)
        if principal is None:
            raise exceptions.AuthenticationFailed()
        return principal, None

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class ClientSecretSchema(OpenApiAuthenticationExtension):
    target_class = "sessions_app.authentication.ClientSecretAuthentication"
    name = "ClientSecret"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "a session's client_secret, for that session's routes only",
        }
