"""Node registration and heartbeats (API.md section 2)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from access_app.models import (
    AgentNode,
    NodeStatus,
    Role,
    TagDecision,
    TagStatus,
    Target,
    TargetKind,
    TargetTag,
)
from access_app.principals import Principal
from access_app.selectors import node_tags_with_status
from access_app.services.tag_rules import treat_tags
from access_app.tags import normalize_tags
from agentfield.session_definition import normalize_session_definition

NODE_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,199}$")
TARGET_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_\-:]{0,199}$")


class RegistrationError(Exception):
    """Refused registration; ``body`` is the exact JSON error body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body.get("message") or body.get("error"))
        self.status = status
        self.body = body


@dataclass
class TargetSpec:
    kind: str
    name: str
    tags: list[str]
    definition: dict[str, Any] = field(default_factory=dict)


@dataclass
class RegistrationResult:
    node: AgentNode
    created: bool
    pending_tags: list[str]
    approved_tags: list[str]


def _invalid(message: str) -> RegistrationError:
    return RegistrationError(400, {"error": "invalid_request", "message": message})


def _component_specs(kind: str, items: list[dict[str, Any]], node_tags: list[str]):
    specs: dict[str, TargetSpec] = {}
    for item in items:
        name = str(item.get("id") or item.get("name") or "").strip()
        if not TARGET_NAME_PATTERN.match(name):
            raise _invalid(
                f"{kind} id {name!r} is invalid: use letters, digits, '_', '-' or ':' "
                "(no dots: targets are <node>.<name>)"
            )
        if name in specs:
            raise _invalid(f"{kind} {name!r} is declared twice")
        own = normalize_tags((item.get("tags") or []) + (item.get("proposed_tags") or []))
        definition = {
            key: item[key]
            for key in ("description", "input_schema", "output_schema")
            if item.get(key) is not None
        }
        specs[name] = TargetSpec(kind, name, normalize_tags(own + node_tags), definition)
    return list(specs.values())


def _session_specs(payload: dict[str, Any]) -> list[TargetSpec]:
    sessions = payload.get("sessions") or []
    if not sessions:
        custom = (payload.get("metadata") or {}).get("custom") or {}
        candidate = custom.get("sessions") if isinstance(custom, dict) else None
        sessions = candidate if isinstance(candidate, list) else []
    specs: dict[str, TargetSpec] = {}
    for raw in sessions:
        if not isinstance(raw, dict):
            raise _invalid("each session must be an object")
        name = str(raw.get("name") or "").strip()
        try:
            definition = normalize_session_definition(raw, settings.AGENTFIELD_SESSION_CAPABILITIES)
        except ValueError as exc:
            raise RegistrationError(400, {"error": str(exc), "session": name}) from None
        if name in specs:
            raise RegistrationError(400, {"error": "session is declared twice", "session": name})
        specs[name] = TargetSpec(TargetKind.SESSION, name, definition["tags"], definition)
    return list(specs.values())


def _check_may_register(principal: Principal, node_id: str) -> None:
    if principal.role not in (Role.AGENT, Role.ADMIN):
        raise RegistrationError(
            403, {"error": "forbidden", "message": "this route requires role agent or admin"}
        )
    if principal.node_id and principal.node_id != node_id:
        raise RegistrationError(
            403,
            {
                "error": "forbidden",
                "message": f"this API key may only act as node '{principal.node_id}'",
            },
        )
    existing = AgentNode.objects.filter(node_id=node_id).first()
    if (
        existing is not None
        and not principal.is_admin
        and principal.node_id != node_id
        and existing.owner != principal.id
    ):
        raise RegistrationError(
            403,
            {"error": "forbidden", "message": f"node '{node_id}' is registered by another key"},
        )


def node_register(*, principal: Principal, payload: dict[str, Any]) -> RegistrationResult:
    node_id = str(payload.get("id") or "").strip()
    if not NODE_ID_PATTERN.match(node_id):
        raise _invalid("id is required: letters, digits, '_' or '-' (no dots), at most 200")
    _check_may_register(principal, node_id)
    node_tags = normalize_tags(payload.get("proposed_tags") or payload.get("tags") or [])
    specs = [
        *_component_specs(TargetKind.REASONER, payload.get("reasoners") or [], node_tags),
        *_component_specs(TargetKind.SKILL, payload.get("skills") or [], node_tags),
        *_session_specs(payload),
    ]
    shared = {s.name for s in specs if s.kind == TargetKind.REASONER} & {
        s.name for s in specs if s.kind == TargetKind.SKILL
    }
    if shared:
        raise _invalid(f"a reasoner and a skill share the name {sorted(shared)[0]!r}")
    all_tags = normalize_tags(tag for spec in specs for tag in spec.tags)
    treatments = treat_tags(all_tags)
    forbidden = sorted(tag for tag, t in treatments.items() if t.mode == "forbidden")
    if forbidden:
        raise RegistrationError(
            403,
            {
                "error": "forbidden_tags",
                "message": "Registration rejected: agent proposes forbidden tags",
                "forbidden_tags": forbidden,
            },
        )
    with transaction.atomic():
        node, created = AgentNode.objects.select_for_update().get_or_create(
            node_id=node_id,
            defaults={"base_url": payload["base_url"], "owner": principal.id},
        )
        node.base_url = payload["base_url"]
        node.version = str(payload.get("version") or "")
        node.instance_id = str(payload.get("instance_id") or "")
        node.proposed_tags = node_tags
        node.metadata = payload.get("metadata") or {}
        node.dispatch_token = secrets.token_urlsafe(32)
        node.reported_status = ""
        node.save()
        _sync_targets(node, specs, treatments)
        node_refresh_status(node)
    return RegistrationResult(
        node=node,
        created=created,
        pending_tags=node_tags_with_status(node, TagStatus.PENDING),
        approved_tags=node_tags_with_status(node, TagStatus.APPROVED),
    )


def _sync_targets(node: AgentNode, specs: list[TargetSpec], treatments) -> None:
    """Upsert targets; keep earlier decisions for unchanged tags; new tags follow the rules."""
    now = timezone.now()
    seen: set[int] = set()
    for spec in specs:
        target, _ = Target.objects.update_or_create(
            node=node,
            kind=spec.kind,
            name=spec.name,
            defaults={"definition": spec.definition, "active": True},
        )
        seen.add(target.pk)
        target.tag_rows.exclude(tag__in=spec.tags).delete()
        known = set(target.tag_rows.values_list("tag", flat=True))
        for tag in spec.tags:
            if tag in known:
                continue
            treatment = treatments[tag]
            if treatment.mode == "auto":
                TargetTag.objects.create(
                    target=target,
                    tag=tag,
                    status=TagStatus.APPROVED,
                    decided_by=treatment.source,
                    decided_at=now,
                )
                TagDecision.objects.create(
                    target=target,
                    tag=tag,
                    decision=TagStatus.APPROVED,
                    actor=treatment.source,
                    reason="auto-approved at registration",
                )
            else:
                TargetTag.objects.create(target=target, tag=tag, status=TagStatus.PENDING)
        target_refresh_approval(target)
    node.targets.exclude(pk__in=seen).update(active=False)


def node_refresh_status(node: AgentNode) -> str:
    """``pending_approval`` while any live target has a pending tag, else the node's report."""
    pending = TargetTag.objects.filter(
        target__node=node, target__active=True, status=TagStatus.PENDING
    ).exists()
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


def target_refresh_approval(target: Target) -> None:
    """Recompute the target's derived approval state from its tag rows."""
    rows = list(target.tag_rows.values_list("tag", "status"))
    statuses = {status for _, status in rows}
    if TagStatus.REJECTED in statuses:
        approval = TagStatus.REJECTED
    elif TagStatus.PENDING in statuses:
        approval = TagStatus.PENDING
    else:
        approval = TagStatus.APPROVED
    approved = sorted(tag for tag, status in rows if status == TagStatus.APPROVED)
    Target.objects.filter(pk=target.pk).update(approval=approval, approved_tags=approved)
    target.approval, target.approved_tags = approval, approved
