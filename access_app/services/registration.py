"""Node registration and heartbeats (API.md section 2)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from access_app.models import (
    AgentNode,
    ApiKey,
    NodeStatus,
    Role,
    TagDecision,
    TagStatus,
    Target,
    TargetKind,
    TargetTag,
)
from access_app.principals import Principal
from access_app.reach import (
    BaseUrlRefused,
    base_url_check,
    reach_changes,
    session_tools_qualified,
    target_reach,
)
from access_app.selectors import node_tags_with_status
from access_app.services.tag_rules import TagTreatment, treat_tags
from access_app.socket_credentials import credential_unbound_notify
from access_app.tags import normalize_tags
from agentfield.contract.definition import normalize_session_definition

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


def _session_specs(payload: dict[str, Any], node_id: str) -> list[TargetSpec]:
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
            session_tools_qualified(node_id, definition["tools"])
        except ValueError as exc:
            raise RegistrationError(400, {"error": str(exc), "session": name}) from None
        if name in specs:
            raise RegistrationError(400, {"error": "session is declared twice", "session": name})
        specs[name] = TargetSpec(TargetKind.SESSION, name, definition["tags"], definition)
    return list(specs.values())


def _forbidden(message: str) -> RegistrationError:
    return RegistrationError(403, {"error": "forbidden", "message": message})


def _key_pk(principal: Principal) -> int | None:
    kind, _, pk = principal.id.partition(":")
    return int(pk) if kind == "key" and pk.isdigit() else None


def _check_role(principal: Principal, node_id: str) -> None:
    if principal.role not in (Role.AGENT, Role.ADMIN):
        raise _forbidden("this route requires role agent or admin")
    if principal.node_id and principal.node_id != node_id:
        raise _forbidden(f"this API key may only act as node '{principal.node_id}'")


def _take_node_id(principal: Principal, node_id: str, exists: bool) -> None:
    """Decision 0015: an admin, or an agent key bound to ``node_id``, may register it; an
    unbound agent key may claim a new id nobody else's key is bound to, and is bound to it
    from then on. Runs inside the registration's transaction, after the node row is
    locked, so a refused claim leaves nothing behind."""
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
            raise _forbidden(f"this API key may no longer act as node '{node_id}'")
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
        raise _forbidden(taken)
    # Once: the conditional UPDATE binds the key only if it is still bound to nothing.
    if not ApiKey.objects.filter(pk=pk, node_id="").update(node_id=node_id, node_claimed=True):
        raise _forbidden("this API key is already bound to a node")


def node_register(*, principal: Principal, payload: dict[str, Any]) -> RegistrationResult:
    node_id = str(payload.get("id") or "").strip()
    if not NODE_ID_PATTERN.match(node_id):
        raise _invalid("id is required: letters, digits, '_' or '-' (no dots), at most 200")
    _check_role(principal, node_id)
    try:
        base_url_check(payload["base_url"])
    except BaseUrlRefused as exc:
        raise RegistrationError(400, {"error": "invalid_base_url", "message": str(exc)}) from None
    node_tags = normalize_tags(payload.get("proposed_tags") or payload.get("tags") or [])
    specs = [
        *_component_specs(TargetKind.REASONER, payload.get("reasoners") or [], node_tags),
        *_component_specs(TargetKind.SKILL, payload.get("skills") or [], node_tags),
        *_session_specs(payload, node_id),
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
        node = AgentNode.objects.select_for_update().filter(node_id=node_id).first()
        _take_node_id(principal, node_id, exists=node is not None)
        created = node is None
        if created:
            try:  # two first registrations racing: the unique node_id lets one win
                with transaction.atomic():
                    node = AgentNode.objects.create(
                        node_id=node_id, base_url=payload["base_url"], owner=principal.id
                    )
            except IntegrityError:
                raise _forbidden(f"node '{node_id}' is registered by another key") from None
        node.base_url = payload["base_url"]
        node.owner = principal.id
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


def _sync_tags(
    target: Target, tags: list[str], treatments: dict[str, TagTreatment], now: datetime
) -> bool:
    """Propose exactly ``tags``; a tag seen before keeps its decision, even one the node
    dropped in between. New tags follow the rules. True when a proposed tag was dropped."""
    rows = {row.tag: row for row in target.tag_rows.all()}
    dropped = [tag for tag, row in rows.items() if row.proposed and tag not in tags]
    TargetTag.objects.filter(target=target, tag__in=dropped).update(proposed=False)
    back = [tag for tag in tags if tag in rows and not rows[tag].proposed]
    TargetTag.objects.filter(target=target, tag__in=back).update(proposed=True)
    for tag in tags:
        if tag in rows:
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
    return bool(dropped)


def _review_definition(
    target: Target,
    spec: TargetSpec,
    previous_reach: dict[str, Any] | None,
    dropped: bool,
    treatments: dict[str, TagTreatment],
) -> None:
    """Put the definition up for review when what it reaches changed (decision 0015)."""
    reach = target.reach
    if target.definition_status == TagStatus.APPROVED:
        changed = dropped or reach != target.approved_reach
    elif target.definition_status == TagStatus.REJECTED:
        changed = dropped or reach != previous_reach  # a new definition is a new question
    else:
        if _back_to_approved(target, reach, dropped):
            return
        changed = True
    if not changed:
        return
    if spec.tags:
        auto = all(treatments[tag].mode == "auto" for tag in spec.tags)
        source = ", ".join(sorted({treatments[tag].source for tag in spec.tags}))[:150]
    else:
        auto = settings.AGENTFIELD_TAG_APPROVAL == "auto"
        source = "AGENTFIELD_TAG_APPROVAL"
    fields = ", ".join(c["field"] for c in reach_changes(target.approved_reach, reach))
    if dropped:
        fields = ", ".join(filter(None, [fields, "tags dropped"]))
    if auto:
        status, approved_reach, reason = TagStatus.APPROVED, reach, "auto-approved at registration"
    else:
        status, approved_reach = TagStatus.PENDING, target.approved_reach
        reason = f"definition changed: {fields}" if target.approved_reach is not None else ""
    if status == target.definition_status and approved_reach == target.approved_reach:
        return
    target.definition_status, target.approved_reach = status, approved_reach
    Target.objects.filter(pk=target.pk).update(
        definition_status=status, approved_reach=approved_reach
    )
    if auto or reason:
        TagDecision.objects.create(
            target=target, tag="", decision=status, actor=source or "registration", reason=reason
        )


def _back_to_approved(target: Target, reach: dict[str, Any], dropped: bool) -> bool:
    """A pending definition that registers exactly its approved reach again, with every
    tag it ever proposed proposed again (no dropped tag remembered), is the approved
    definition: it is approved again, recorded as such. A target that still drops a tag
    stays pending for an admin, since the approval may have covered that tag."""
    if target.approved_reach is None or reach != target.approved_reach or dropped:
        return False
    if target.tag_rows.filter(proposed=False).exists():
        return False
    target.definition_status = TagStatus.APPROVED
    Target.objects.filter(pk=target.pk).update(definition_status=TagStatus.APPROVED)
    TagDecision.objects.create(
        target=target,
        tag="",
        decision=TagStatus.APPROVED,
        actor="registration",
        reason="definition back to the approved one",
    )
    return True


def _sync_targets(
    node: AgentNode, specs: list[TargetSpec], treatments: dict[str, TagTreatment]
) -> None:
    """Upsert targets; keep earlier decisions per (target, tag); review changed reach."""
    now = timezone.now()
    seen: set[int] = set()
    for spec in specs:
        reach = target_reach(
            kind=spec.kind, definition=spec.definition, node_id=node.node_id, base_url=node.base_url
        )
        # Locked, so an approval in flight either sees this registration or is seen by it.
        target, created = Target.objects.select_for_update().get_or_create(
            node=node,
            kind=spec.kind,
            name=spec.name,
            defaults={"definition": spec.definition, "reach": reach},
        )
        previous_reach = None if created else target.reach
        if not created:
            target.definition, target.active, target.reach = spec.definition, True, reach
            target.save(update_fields=["definition", "active", "reach"])
        seen.add(target.pk)
        dropped = _sync_tags(target, spec.tags, treatments, now)
        _review_definition(target, spec, previous_reach, dropped, treatments)
        target_refresh_approval(target)
    node.targets.exclude(pk__in=seen).update(active=False)


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


def target_refresh_approval(target: Target) -> None:
    """Recompute the target's derived approval state from its proposed tags and its
    definition's review (a tag it dropped is remembered but decides nothing now)."""
    rows = list(target.tag_rows.filter(proposed=True).values_list("tag", "status"))
    definition = (
        Target.objects.filter(pk=target.pk).values_list("definition_status", flat=True).first()
    )
    statuses = {status for _, status in rows} | {definition}
    if TagStatus.REJECTED in statuses:
        approval = TagStatus.REJECTED
    elif TagStatus.PENDING in statuses:
        approval = TagStatus.PENDING
    else:
        approval = TagStatus.APPROVED
    approved = sorted(tag for tag, status in rows if status == TagStatus.APPROVED)
    Target.objects.filter(pk=target.pk).update(approval=approval, approved_tags=approved)
    target.approval, target.approved_tags = approval, approved
