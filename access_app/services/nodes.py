"""Node registration, heartbeats and shutdown notices (API.md section 2)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from access_app.models import AgentNode, NodeStatus, TagStatus, Target
from access_app.principals import Principal
from access_app.reach import BaseUrlRefused, base_url_check
from access_app.selectors import node_tags_with_status
from access_app.services.node_claims import forbidden, node_id_check_role, node_id_take
from access_app.services.tag_rules import tags_treat
from access_app.services.target_specs import invalid_request, target_specs_read
from access_app.services.targets import targets_sync
from access_app.tags import normalize_tags
from foundation.errors import ApiError

NODE_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,199}$")


@dataclass
class RegistrationResult:
    node: AgentNode
    created: bool
    pending_tags: list[str]
    approved_tags: list[str]


def _node_tags_treated(specs) -> dict:
    """How each proposed tag is treated; a forbidden one refuses the whole registration."""
    treatments = tags_treat(normalize_tags(tag for spec in specs for tag in spec.tags))
    refused = sorted(tag for tag, t in treatments.items() if t.mode == "forbidden")
    if refused:
        raise ApiError(
            403,
            "forbidden_tags",
            "Registration rejected: agent proposes forbidden tags",
            forbidden_tags=refused,
        )
    return treatments


def _node_locked_for(principal: Principal, node_id: str, base_url: str) -> tuple[AgentNode, bool]:
    """The node's row, locked (created if new), once ``principal`` may take its id."""
    node = AgentNode.objects.select_for_update().filter(node_id=node_id).first()
    node_id_take(principal=principal, node_id=node_id, exists=node is not None)
    if node is not None:
        return node, False
    try:  # two first registrations racing: the unique node_id lets one win
        with transaction.atomic():
            node = AgentNode.objects.create(node_id=node_id, base_url=base_url, owner=principal.id)
    except IntegrityError:
        raise forbidden(f"node '{node_id}' is registered by another key") from None
    return node, True


def node_register(*, principal: Principal, payload: dict[str, Any]) -> RegistrationResult:
    node_id = str(payload.get("id") or "").strip()
    if not NODE_ID_PATTERN.match(node_id):
        raise invalid_request("id is required: letters, digits, '_' or '-' (no dots), at most 200")
    node_id_check_role(principal=principal, node_id=node_id)
    try:
        base_url_check(payload["base_url"])
    except BaseUrlRefused as exc:
        raise ApiError(400, "invalid_base_url", str(exc)) from None
    node_tags = normalize_tags(payload.get("proposed_tags") or payload.get("tags") or [])
    specs = target_specs_read(payload=payload, node_id=node_id, node_tags=node_tags)
    treatments = _node_tags_treated(specs)
    with transaction.atomic():
        node, created = _node_locked_for(principal, node_id, payload["base_url"])
        node.base_url = payload["base_url"]
        node.owner = principal.id
        node.version = str(payload.get("version") or "")
        node.instance_id = str(payload.get("instance_id") or "")
        node.proposed_tags = node_tags
        node.metadata = payload.get("metadata") or {}
        node.dispatch_token = secrets.token_urlsafe(32)
        node.reported_status = ""
        node.save()
        targets_sync(node=node, specs=specs, treatments=treatments)
        node_refresh_status(node)
    return RegistrationResult(
        node=node,
        created=created,
        pending_tags=node_tags_with_status(node, TagStatus.PENDING),
        approved_tags=node_tags_with_status(node, TagStatus.APPROVED),
    )


def node_refresh_status(node: AgentNode) -> str:
    """``pending_approval`` while any live target has a pending tag or definition, else the
    node's report."""
    pending = (
        Target.objects.filter(node=node, active=True)
        .filter(
            Q(definition_status=TagStatus.PENDING)
            | Q(tag_rows__status=TagStatus.PENDING, tag_rows__proposed=True)
        )
        .exists()
    )
    if pending:
        status = NodeStatus.PENDING_APPROVAL
    elif node.reported_status in (NodeStatus.DEGRADED, NodeStatus.OFFLINE):
        status = node.reported_status
    else:
        status = NodeStatus.READY
    if status != node.status:
        AgentNode.objects.filter(pk=node.pk).update(status=status)
        node.status = status
    return status


_REPORTABLE = {"starting": "", "ready": "", "degraded": "degraded", "offline": "offline"}


def node_heartbeat(*, node: AgentNode, reported_status: str | None = None) -> AgentNode:
    """Record a heartbeat. A reported status never overrides pending approval."""
    node.last_heartbeat = timezone.now()
    fields = ["last_heartbeat"]
    if reported_status is not None and reported_status in _REPORTABLE:
        node.reported_status = _REPORTABLE[reported_status]
        fields.append("reported_status")
    node.save(update_fields=fields)
    node_refresh_status(node)
    return node


def node_shutdown(*, node: AgentNode) -> AgentNode:
    """Upstream's graceful shutdown notice: the node reports itself offline (its next
    registration or a heartbeat that says otherwise brings it back)."""
    node.reported_status = NodeStatus.OFFLINE
    node.save(update_fields=["reported_status"])
    node_refresh_status(node)
    return node
