"""Writes for callers: API keys."""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from access_app.models import ApiKey, Role, hash_secret
from access_app.signals import api_key_revoked
from access_app.socket_credentials import credential_revoked_notify
from access_app.tags import normalize_tags

log = logging.getLogger(__name__)

KEY_SCHEME = "af"
_LAST_USED_RESOLUTION = timedelta(minutes=1)


def api_key_create(
    *, name: str, role: str, tags: list[str] | None = None, node_id: str = ""
) -> tuple[ApiKey, str]:
    """Create a key; return the row and the plaintext key, which is never stored."""
    if role not in Role.values:
        raise ValueError(f"role must be one of {', '.join(Role.values)}")
    if node_id and role != Role.AGENT:
        raise ValueError("only agent keys can be bound to a node")
    for _ in range(5):
        prefix = secrets.token_hex(4)
        secret = secrets.token_urlsafe(32)
        plaintext = f"{KEY_SCHEME}_{prefix}_{secret}"
        try:
            key = ApiKey.objects.create(
                name=name,
                prefix=prefix,
                key_hash=hash_secret(plaintext),
                role=role,
                tags=normalize_tags(tags),
                node_id=node_id.strip(),
            )
        except IntegrityError:  # prefix collision: draw again
            continue
        return key, plaintext
    raise RuntimeError("could not allocate a unique API key prefix")


def api_key_authenticate(plaintext: str) -> ApiKey | None:
    """The active key matching ``plaintext``, or None. Constant-time on the secret part."""
    parts = plaintext.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_SCHEME:
        return None
    try:  # the prefix is unique: no ordering to compile
        key = ApiKey.objects.get(prefix=parts[1], revoked_at__isnull=True)
    except ApiKey.DoesNotExist:
        return None
    if not key.matches(plaintext.strip()):
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > _LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key


def api_key_revoke(*, key: ApiKey) -> None:
    """Revoke the key; once committed, the WebSockets it opened are told to close and the
    sessions it started end (``api_key_revoked``)."""
    revoked = ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    if revoked:
        principal_id = f"key:{key.pk}"
        transaction.on_commit(lambda: _revoked_notify(principal_id))


def _revoked_notify(principal_id: str) -> None:
    credential_revoked_notify(principal_id)
    for receiver, error in api_key_revoked.send_robust(sender=ApiKey, principal_id=principal_id):
        if isinstance(error, Exception):
            log.error("%s failed after a key was revoked", receiver, exc_info=error)
