"""Who may register a node id (decision 0015): the 403 answers of the registration route."""

from __future__ import annotations

from django.db import transaction

from access_app.models import ApiKey, Role
from access_app.principals import Principal
from access_app.socket_credentials import credential_unbound_notify
from foundation.errors import ApiError


def forbidden(message: str) -> ApiError:
    return ApiError(403, "forbidden", message)


def _key_pk(principal: Principal) -> int | None:
    kind, _, pk = principal.id.partition(":")
    return int(pk) if kind == "key" and pk.isdigit() else None


def node_id_check_role(*, principal: Principal, node_id: str) -> None:
    """Before anything is read: only an agent or admin key, and a bound key only for its id."""
    if principal.role not in (Role.AGENT, Role.ADMIN):
        raise forbidden("this route requires role agent or admin")
    if principal.node_id and principal.node_id != node_id:
        raise forbidden(f"this API key may only act as node '{principal.node_id}'")


def node_id_take(*, principal: Principal, node_id: str, exists: bool) -> None:
    """An admin, or an agent key bound to ``node_id``, may register it; an unbound agent
    key may claim a new id nobody else's key is bound to, and is bound to it from then on.
    Runs inside the registration's transaction, after the node row is locked, so a
    refused claim leaves nothing behind."""
    if principal.is_admin:
        return
    pk = _key_pk(principal)
    if principal.node_id == node_id:
        # Read again under the node's lock: a claim superseded by a registration that
        # committed after this request authenticated no longer counts.
        key = (
            ApiKey.objects.filter(pk=pk, node_id=node_id, revoked_at__isnull=True)
            .values("node_claimed")
            .first()
        )
        if key is None:
            raise forbidden(f"this API key may no longer act as node '{node_id}'")
        if not key["node_claimed"]:
            # A key an admin bound to this id supersedes one that claimed it by itself.
            claims = ApiKey.objects.filter(node_id=node_id, node_claimed=True).exclude(pk=pk)
            superseded = [f"key:{claim}" for claim in claims.values_list("pk", flat=True)]
            if claims.update(node_id="", node_claimed=False):
                # their open agent links close now, not at their next message
                transaction.on_commit(lambda: credential_unbound_notify(superseded))
        return
    taken = f"node '{node_id}' is registered by another key"
    others = ApiKey.objects.filter(node_id=node_id, revoked_at__isnull=True).exclude(pk=pk)
    if exists or pk is None or others.exists():
        raise forbidden(taken)
    # Once: the conditional UPDATE binds the key only if it is still bound to nothing.
    if not ApiKey.objects.filter(pk=pk, node_id="").update(node_id=node_id, node_claimed=True):
        raise forbidden("this API key is already bound to a node")
