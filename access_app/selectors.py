"""Reads of the access app, each scoped to the principal asking."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from access_app.models import (
    AccessPolicy,
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
from access_app.read_cache import cached_read


def api_keys_list() -> QuerySet[ApiKey]:
    return ApiKey.objects.order_by("-created_at")


_PROPOSED_TAGS = Prefetch("tag_rows", queryset=TargetTag.objects.filter(proposed=True))


def api_key_is_active(key_id: int) -> bool:
    """Whether the key still exists unrevoked (a socket it opened rechecks this)."""
    return ApiKey.objects.filter(pk=key_id, revoked_at__isnull=True).exists()


def _with_targets(nodes: QuerySet[AgentNode]) -> QuerySet[AgentNode]:
    targets = Target.objects.filter(active=True).prefetch_related(_PROPOSED_TAGS)
    return nodes.prefetch_related(Prefetch("targets", queryset=targets, to_attr="live_targets"))


def nodes_visible_to(principal: Principal) -> QuerySet[AgentNode]:
    """Admins see every node; an agent key the node it is bound to; callers none. Binding,
    never ``AgentNode.owner``, decides who acts as a node (decision 0015)."""
    nodes = AgentNode.objects.all()
    if principal.is_admin:
        return _with_targets(nodes)
    if principal.role == "agent" and principal.node_id:
        return _with_targets(nodes.filter(node_id=principal.node_id))
    return nodes.none()


def principal_still_acts_as(principal: Principal, node_id: str) -> bool:
    """``Principal.acts_as_node`` against the key's row as it is now, for a long-lived
    connection opened earlier: a key that was revoked or lost its binding (decision 0015:
    an admin-bound key supersedes a claim) no longer acts as the node."""
    kind, _, pk = principal.id.partition(":")
    if kind != "key" or not pk.isdigit():
        return principal.acts_as_node(node_id)
    key = ApiKey.objects.filter(pk=int(pk), revoked_at__isnull=True).only("role", "node_id").first()
    if key is None:
        return False
    return key.role == Role.ADMIN or (key.role == Role.AGENT and key.node_id == node_id)


def node_owners(nodes: Iterable[AgentNode]) -> dict[str, list[ApiKey]]:
    """node_id -> the live API keys bound to it (who may act as it), for the admin pages."""
    node_ids = [node.node_id for node in nodes]
    owners: dict[str, list[ApiKey]] = {}
    keys = ApiKey.objects.filter(node_id__in=node_ids, revoked_at__isnull=True).order_by("pk")
    for key in keys:
        owners.setdefault(key.node_id, []).append(key)
    return owners


def node_get_for(*, principal: Principal, node_id: str) -> AgentNode | None:
    return nodes_visible_to(principal).filter(node_id=node_id).first()


def node_tags_with_status(node: AgentNode, status: str) -> list[str]:
    """The distinct tags of the node's live targets that have ``status``."""
    rows = TargetTag.objects.filter(
        target__node=node, target__active=True, status=status, proposed=True
    )
    return sorted(set(rows.values_list("tag", flat=True)))


def node_get(node_id: str) -> AgentNode | None:
    """Unscoped: for admin routes, which check the role first."""
    return _with_targets(AgentNode.objects.filter(node_id=node_id)).first()


def _pending_targets() -> QuerySet[Target]:
    """Live targets with a pending proposed tag or a pending definition."""
    pending_tags = TargetTag.objects.filter(status=TagStatus.PENDING, proposed=True)
    return Target.objects.filter(active=True).filter(
        Q(pk__in=pending_tags.values("target")) | Q(definition_status=TagStatus.PENDING)
    )


def nodes_by_approval(*, pending: bool) -> QuerySet[AgentNode]:
    has_pending = _pending_targets().values("node")
    nodes = AgentNode.objects.all()
    nodes = nodes.filter(pk__in=has_pending) if pending else nodes.exclude(pk__in=has_pending)
    return _with_targets(nodes)


def target_resolve(
    node_id: str, name: str, kinds: tuple[str, ...] = (TargetKind.REASONER, TargetKind.SKILL)
) -> Target | None:
    """The live target ``<node_id>.<name>`` of one of ``kinds``, with its node; a reasoner
    before a skill of the same name. Cached (``read_cache``): do not modify it."""
    return cached_read(
        ("target", node_id, name, kinds),
        lambda: (
            Target.objects.select_related("node")
            .filter(node__node_id=node_id, name=name, kind__in=kinds, active=True)
            .order_by("kind")
            .first()
        ),
    )


def target_with_node(target_id: int) -> Target | None:
    """A target by id with its node, whatever its state (the dispatch path needs the node's
    address and token). Cached (``read_cache``): do not modify it."""
    return cached_read(
        ("target_id", target_id),
        lambda: Target.objects.select_related("node").filter(pk=target_id).first(),
    )


def policies_enabled() -> list[AccessPolicy]:
    """Every enabled policy, unordered (the evaluator sorts). Cached: do not modify them."""
    return cached_read(("policies",), lambda: list(AccessPolicy.objects.filter(enabled=True)))


def targets_with_pending_tags() -> QuerySet[Target]:
    return (
        _pending_targets()
        .select_related("node")
        .prefetch_related(_PROPOSED_TAGS)
        .order_by("node__node_id", "kind", "name")
    )


def recent_decisions(limit: int = 50) -> QuerySet[TagDecision]:
    return TagDecision.objects.select_related("target__node")[:limit]


def policies_list() -> QuerySet[AccessPolicy]:
    return AccessPolicy.objects.order_by("-priority", "id")


# A node that has not been heard from (heartbeat or registration) for this long is not
# counted as online: the SDKs beat every 10 s.
NODE_SILENT_AFTER = timedelta(seconds=60)


def node_is_online(node: AgentNode, *, now: datetime | None = None) -> bool:
    """Heard from lately and not shut down (whatever its approval state)."""
    if node.reported_status == NodeStatus.OFFLINE:
        return False
    last_seen = node.last_heartbeat or node.updated_at
    return last_seen is not None and last_seen >= (now or timezone.now()) - NODE_SILENT_AFTER


@dataclass(frozen=True)
class PendingApprovals:
    """What waits on the approvals page: targets, and the pending tags among them."""

    targets: int
    tags: int


def pending_approvals_for(principal: Principal) -> PendingApprovals | None:
    """Admins: the count of what waits for a decision. Anyone else: None (not theirs)."""
    if not principal.is_admin:
        return None
    tags = TargetTag.objects.filter(status=TagStatus.PENDING, proposed=True, target__active=True)
    return PendingApprovals(targets=_pending_targets().count(), tags=tags.count())
