"""The one access decision every caller uses: session starts, executions, session tools.

``access_check`` looks at the target's approval state, then evaluates the access policies
(upstream's algorithm: highest priority first, then id).
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.conf import settings

from access_app.models import AccessPolicy, PolicyAction, TagStatus, Target
from access_app.selectors import policies_enabled
from access_app.tags import any_tag_matches, tag_matches
from foundation.errors import ApiError

CONSTRAINT_OPERATORS = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
}


class HasTags(Protocol):
    tags: Sequence[str]
    is_admin: bool


@dataclass(frozen=True)
class AccessAllowed:
    policy: str | None = None


@dataclass(frozen=True)
class AccessDenied:
    """A refusal: ``api_error()`` is the ``ApiError`` a service raises for it."""

    status: int
    error: str
    message: str
    extra: dict[str, Any] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return {"error": self.error, "message": self.message, **self.extra}

    def api_error(self) -> ApiError:
        return ApiError(self.status, self.error, self.message, **self.extra)


AccessResult = AccessAllowed | AccessDenied


@dataclass(frozen=True)
class PolicyOutcome:
    action: str | None  # allow | deny | None when nothing matched
    policy: str | None = None


def _intersects(patterns: Sequence[str], tags: Sequence[str]) -> bool:
    return not patterns or any_tag_matches(patterns, tags)


def _function_matches(patterns: Sequence[str], function: str) -> bool:
    return any(tag_matches(pattern, function) for pattern in patterns)


def _constraints_hold(constraints: Mapping[str, Any], params: Mapping[str, Any]) -> bool:
    for param, rule in constraints.items():
        if param not in params:
            return False
        compare = CONSTRAINT_OPERATORS[rule["operator"]]
        try:
            if not compare(params[param], rule["value"]):
                return False
        except TypeError:  # e.g. "abc" <= 5: the constraint cannot hold
            return False
    return True


def evaluate_policies(
    policies: Sequence[AccessPolicy],
    *,
    caller_tags: Sequence[str],
    target_tags: Sequence[str],
    function: str,
    params: Mapping[str, Any],
) -> PolicyOutcome:
    ordered = sorted((p for p in policies if p.enabled), key=lambda p: (-p.priority, p.pk))
    for policy in ordered:
        if not _intersects(policy.caller_tags, caller_tags):
            continue
        if not _intersects(policy.target_tags, target_tags):
            continue
        if _function_matches(policy.deny_functions, function):
            return PolicyOutcome(PolicyAction.DENY, policy.name)
        if policy.allow_functions and not _function_matches(policy.allow_functions, function):
            continue
        if policy.constraints and not _constraints_hold(policy.constraints, params):
            return PolicyOutcome(PolicyAction.DENY, policy.name)
        return PolicyOutcome(policy.action, policy.name)
    return PolicyOutcome(None)


def target_approval_denial(target: Target) -> AccessDenied | None:
    # Which of its tags or its definition (decision 0015) holds it, for the message only.
    what = "its definition" if target.definition_status != TagStatus.APPROVED else "tags"
    if target.approval == TagStatus.REJECTED:
        held = "has rejected tags" if what == "tags" else "was rejected"
        return AccessDenied(
            403,
            "target_tags_rejected",
            f"target '{target.full_name}' {held} and cannot receive calls",
        )
    if target.approval == TagStatus.PENDING:
        awaiting = "tag approval" if what == "tags" else "approval of its definition"
        return AccessDenied(
            503,
            "agent_pending_approval",
            f"target '{target.full_name}' is awaiting {awaiting} and cannot receive calls",
        )
    return None


def target_approved_tags(target: Target) -> list[str]:
    return list(target.approved_tags)


def access_check(
    *, caller: HasTags, target: Target, input: Mapping[str, Any] | None
) -> AccessResult:
    """Allow, or a typed denial. Admin callers skip the policies, never the approvals.

    ``input`` is the payload the target will be handed, as is: constraints judge it."""
    denial = target_approval_denial(target)
    if denial is not None:
        return denial
    if caller.is_admin:
        return AccessAllowed()
    # ``input`` is exactly what the agent will receive. Upstream's middleware read the raw
    # body and unwrapped ``{"input": ...}``; our callers pass the unwrapped payload, so a
    # second unwrap would judge a nested ``input`` object the agent never sees as its own.
    params = input if isinstance(input, Mapping) else {}
    outcome = evaluate_policies(
        policies_enabled(),
        caller_tags=list(caller.tags),
        target_tags=target_approved_tags(target),
        function=target.name,
        params=params,
    )
    if outcome.action == PolicyAction.ALLOW:
        return AccessAllowed(outcome.policy)
    if outcome.action == PolicyAction.DENY:
        return AccessDenied(403, "access_denied", "Access denied by policy")
    if settings.AGENTFIELD_DEFAULT_DENY:
        return AccessDenied(403, "no_policy_matched", "no access policy matches this request")
    return AccessAllowed()
