"""Reads of the access app, each scoped to the principal asking."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from access_app.models import (
    AccessPolicy,
    AgentNode,
    ApiKey,
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


def api_key_is_active(key_id: int) -> bool:
    """Whether the key still exists unrevoked (a socket it opened rechecks this)."""
    return ApiKey.objects.filter(pk=key_id, revoked_at__isnull=True).exists()


def _with_targets(nodes: QuerySet[AgentNode]) -> QuerySet[AgentNode]:
    targets = Target.objects.filter(active=True).prefetch_related("tag_rows")
    return nodes.prefetch_related(Prefetch("targets", queryset=targets, to_attr="live_targets"))


def nodes_visible_to(principal: Principal) -> QuerySet[AgentNode]:
    """Admins see every node; an agent key the nodes it owns or is bound to; callers none."""
    nodes = AgentNode.objects.all()
    if principal.is_admin:
        return _with_targets(nodes)
    if principal.role == "agent":
        scoped = nodes.filter(owner=principal.id)
        if principal.node_id:
            scoped = scoped | nodes.filter(node_id=principal.node_id)
        return _with_targets(scoped)
    return nodes.none()


def node_get_for(*, principal: Principal, node_id: str) -> AgentNode | None:
    return nodes_visible_to(principal).filter(node_id=node_id).first()


def node_tags_with_status(node: AgentNode, status: str) -> list[str]:
    """The distinct tags of the node's live targets that have ``status``."""
    rows = TargetTag.objects.filter(target__node=node, target__active=True, status=status)
    return sorted(set(rows.values_list("tag", flat=True)))


def node_get(node_id: str) -> AgentNode | None:
    """Unscoped: for admin routes, which check the role first."""
    return _with_targets(AgentNode.objects.filter(node_id=node_id)).first()


def nodes_by_approval(*, pending: bool) -> QuerySet[AgentNode]:
    has_pending = TargetTag.objects.filter(target__active=True, status=TagStatus.PENDING).values(
        "target__node"
    )
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
    pending = TargetTag.objects.filter(status=TagStatus.PENDING).values("target")
    return (
        Target.objects.filter(active=True, pk__in=pending)
        .select_related("node")
        .prefetch_related("tag_rows")
        .order_by("node__node_id", "kind", "name")
    )


def recent_decisions(limit: int = 50) -> QuerySet[TagDecision]:
    return TagDecision.objects.select_related("target__node")[:limit]


def policies_list() -> QuerySet[AccessPolicy]:
    return AccessPolicy.objects.order_by("-priority", "id")
