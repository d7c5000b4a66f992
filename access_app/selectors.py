"""Reads of the access app, each scoped to the principal asking."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from access_app.models import (
    AccessPolicy,
    AgentNode,
    ApiKey,
    CallerProfile,
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
from access_app.tags import any_tag_matches, tag_matches


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


def node_target(node: AgentNode, name: str, kind: str | None = None) -> Target | None:
    """The node's live target ``name`` (of ``kind``), for admin routes. ``None`` when there
    is none, or when a reasoner and a skill share the name and ``kind`` is not given."""
    targets = Target.objects.select_related("node").filter(node=node, name=name, active=True)
    found = list(targets.filter(kind=kind) if kind else targets)
    return found[0] if len(found) == 1 else None


def targets_with_decided_tags() -> QuerySet[Target]:
    """Live targets with an approved or rejected proposed tag (the page's revoke/reverse)."""
    decided = TargetTag.objects.filter(proposed=True).exclude(status=TagStatus.PENDING)
    return (
        Target.objects.filter(active=True, pk__in=decided.values("target"))
        .select_related("node")
        .prefetch_related(_PROPOSED_TAGS)
        .order_by("node__node_id", "kind", "name")
    )


# --- What approving a tag lets happen (the approvals page) ----------------------------------


@dataclass(frozen=True)
class KnownCaller:
    """A caller whose tags the policies judge: a live non-admin API key, or an active
    non-superuser with a caller profile."""

    label: str
    tags: tuple[str, ...]


@dataclass(frozen=True)
class PolicyMatch:
    """One enabled policy that matches a tag, as the page explains it. ``patterns`` are the
    other side's tags (callers' for a target tag, targets' for a session's caller tag) and
    ``who`` what they match now; ``conditional``: constraints on the input decide."""

    name: str
    action: str
    priority: int
    patterns: tuple[str, ...]
    who: tuple[str, ...]
    conditional: bool


@dataclass
class TargetEffects:
    """What approving a target's pending tags lets happen."""

    by_tag: dict[str, list[PolicyMatch]] = field(default_factory=dict)
    # Session targets: policies whose caller tags match the tag (its tool calls carry it).
    calls_by_tag: dict[str, list[PolicyMatch]] = field(default_factory=dict)
    callers: list[str] = field(default_factory=list)  # could start/call it once approved
    callers_if: list[str] = field(default_factory=list)  # ... if the input meets constraints
    # Session targets: (tool, "allowed" | "refused" | "not callable") with its tags.
    tools: list[tuple[str, str]] = field(default_factory=list)
    default_deny: bool = True


def _known_callers() -> list[KnownCaller]:
    keys = ApiKey.objects.filter(revoked_at__isnull=True).exclude(role=Role.ADMIN).order_by("name")
    callers = [KnownCaller(f"key {key.name} ({key.role})", tuple(key.tags or ())) for key in keys]
    profiles = CallerProfile.objects.select_related("user").filter(
        user__is_active=True, user__is_superuser=False
    )
    callers += [
        KnownCaller(f"user {p.user.get_username()}", tuple(p.tags or ()))
        for p in sorted(profiles, key=lambda p: p.user.get_username())
    ]
    return callers


def _action_on(policy: AccessPolicy, function: str) -> str | None:
    """The policy's action for ``function``, as the evaluator applies it (``None``: the
    policy's function lists leave it out)."""
    if any(tag_matches(pattern, function) for pattern in policy.deny_functions):
        return "deny"
    if policy.allow_functions and not any(
        tag_matches(pattern, function) for pattern in policy.allow_functions
    ):
        return None
    return policy.action


def _matches(patterns: Sequence[str], tags: Sequence[str]) -> bool:
    return not patterns or any_tag_matches(patterns, tags)


def _verdict(policies, caller_tags, target_tags, function) -> str:
    """``allow``, ``deny`` or ``if`` (an allow whose constraints judge the input), by the
    access decision's own evaluator."""
    from access_app.access import evaluate_policies  # access imports this module

    outcome = evaluate_policies(
        policies, caller_tags=caller_tags, target_tags=target_tags, function=function, params={}
    )
    if outcome.action is None:
        return "deny" if settings.AGENTFIELD_DEFAULT_DENY else "allow"
    chosen = next(p for p in policies if p.name == outcome.policy)
    if outcome.action == "deny" and chosen.constraints and _action_on(chosen, function) == "allow":
        return "if"
    return outcome.action


def approval_effects(targets: Iterable[Target]) -> dict[int, TargetEffects]:
    """target pk -> what approving its pending tags lets happen: per pending tag, the
    enabled policies whose target tags match it (and whom their caller tags match); who
    could start or call the target once all of them are approved; and for a session, whose
    approved tags are the caller tags of its tool calls, the policies its tags match as a
    caller and which of its tools it could then call. Read-only."""
    policies = sorted(policies_enabled(), key=lambda p: (-p.priority, p.pk))
    callers = _known_callers()
    callable_targets = {
        t.full_name: t
        for t in Target.objects.filter(active=True, approval=TagStatus.APPROVED)
        .exclude(kind=TargetKind.SESSION)
        .select_related("node")
    }
    effects: dict[int, TargetEffects] = {}
    for target in targets:
        rows = [row for row in target.tag_rows.all() if row.proposed]
        pending = [row.tag for row in rows if row.status == TagStatus.PENDING]
        future = sorted(row.tag for row in rows if row.status != TagStatus.REJECTED)
        effect = TargetEffects(default_deny=settings.AGENTFIELD_DEFAULT_DENY)
        for tag in pending:
            effect.by_tag[tag] = _target_side(policies, callers, target, tag)
            if target.kind == TargetKind.SESSION:
                effect.calls_by_tag[tag] = _caller_side(policies, callable_targets, tag)
        for caller in callers:
            verdict = _verdict(policies, caller.tags, future, target.name)
            if verdict == "allow":
                effect.callers.append(caller.label)
            elif verdict == "if":
                effect.callers_if.append(caller.label)
        if target.kind == TargetKind.SESSION:
            for tool in (target.reach or {}).get("tools") or []:
                found = callable_targets.get(tool)
                if found is None:
                    effect.tools.append((tool, "not callable"))
                    continue
                verdict = _verdict(policies, future, list(found.approved_tags), found.name)
                effect.tools.append((tool, "refused" if verdict == "deny" else "allowed"))
        effects[target.pk] = effect
    return effects


def _target_side(policies, callers, target: Target, tag: str) -> list[PolicyMatch]:
    matches = []
    for policy in policies:
        action = _action_on(policy, target.name)
        if not policy.target_tags or action is None:
            continue
        if not any(tag_matches(pattern, tag) for pattern in policy.target_tags):
            continue
        who = tuple(c.label for c in callers if _matches(policy.caller_tags, c.tags))
        matches.append(
            PolicyMatch(
                policy.name,
                action,
                policy.priority,
                tuple(policy.caller_tags),
                who,
                bool(policy.constraints) and action == "allow",
            )
        )
    return matches


def _caller_side(policies, targets: dict[str, Target], tag: str) -> list[PolicyMatch]:
    matches = []
    for policy in policies:
        if not policy.caller_tags or not any(tag_matches(p, tag) for p in policy.caller_tags):
            continue
        reached = tuple(
            name
            for name, t in sorted(targets.items())
            if _matches(policy.target_tags, t.approved_tags) and _action_on(policy, t.name)
        )
        matches.append(
            PolicyMatch(
                policy.name,
                policy.action,
                policy.priority,
                tuple(policy.target_tags),
                reached,
                bool(policy.constraints) and policy.action == "allow",
            )
        )
    return matches
