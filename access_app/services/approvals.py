"""Tag approval decisions: per tag, per target, and upstream's per-node admin routes.

Every decision writes a :class:`TagDecision` row (who, when, why). A target is callable
once none of its proposed tags is pending or rejected and its definition (what it reaches,
``access_app.reach``) is approved. A definition decision is logged with an empty tag.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from access_app.models import AgentNode, TagDecision, TagStatus, Target, TargetKind, TargetTag
from access_app.selectors import node_tags_with_status
from access_app.services.nodes import node_refresh_status
from access_app.services.targets import target_refresh_approval
from access_app.tags import normalize_tags
from foundation.errors import ApiError

NOT_LISTED_REASON = "not included in the approved tags"
DEFINITION_LABEL = "(definition)"


def _not_pending(node: AgentNode) -> ApiError:
    """The node has no pending tag or definition (upstream's 409)."""
    return ApiError(
        409, "not_pending_approval", f"agent '{node.node_id}' has no tags pending approval"
    )


def _changed_since_seen(target: Target, seen: str) -> ApiError:
    """The target was registered again, or decided by someone else, after the admin looked
    at it: nothing decided."""
    if target_seen(target)[:16] == seen[:16]:  # same reach and tags: only decisions changed
        what = "was decided by another admin"
    else:
        what = "was registered again"
    return ApiError(
        409,
        "changed_since_seen",
        f"{target.full_name} {what} since this page was loaded; "
        "nothing was decided. Review it again.",
    )


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def target_seen(target: Target) -> str:
    """A fingerprint of what an admin reviews: the reach and the proposed tags (first half),
    and their decisions (second half). The page sends it back with a decision, so a
    registration in between is never approved unseen, nor another admin's decision
    overturned unseen."""
    rows = sorted(target.tag_rows.filter(proposed=True).values_list("tag", "status"))
    shape = [target.reach, [tag for tag, _ in rows]]
    return _digest(shape)[:16] + _digest([rows, target.definition_status])[:16]


def _decide(rows: Iterable[TargetTag], decision: str, actor: str, reason: str) -> list[TargetTag]:
    now = timezone.now()
    changed = []
    touched: set[int] = set()
    for row in rows:
        if row.status == decision:
            continue
        row.status, row.decided_by, row.decided_at, row.reason = decision, actor, now, reason
        row.save(update_fields=["status", "decided_by", "decided_at", "reason"])
        TagDecision.objects.create(
            target_id=row.target_id, tag=row.tag, decision=decision, actor=actor, reason=reason
        )
        changed.append(row)
        touched.add(row.target_id)
    for target_id in touched:
        target_refresh_approval(Target(pk=target_id))
    return changed


def _decide_definitions(target_ids: Iterable[int], decision: str, actor: str, reason: str):
    """Decide the pending definitions among ``target_ids``; approving one approves the
    reach it has now. Returns the ids decided."""
    decided = []
    for target in Target.objects.select_for_update().filter(
        pk__in=list(target_ids), definition_status=TagStatus.PENDING
    ):
        approved_reach = target.reach if decision == TagStatus.APPROVED else target.approved_reach
        Target.objects.filter(pk=target.pk).update(
            definition_status=decision, approved_reach=approved_reach
        )
        TagDecision.objects.create(
            target_id=target.pk, tag="", decision=decision, actor=actor, reason=reason
        )
        target_refresh_approval(target)
        decided.append(target.pk)
    return decided


def target_tags_decide(
    *,
    target: Target,
    decision: str,
    actor: str,
    reason: str = "",
    tags: list[str] | None = None,
    seen: str | None = None,
) -> list[str]:
    """Approve or reject some tags of one target, or (``tags`` None) everything pending on
    it: its pending tags and its definition. With ``seen`` (``target_seen`` as the admin
    saw it), refuse (409 ``changed_since_seen``) if it changed since. Returns what changed (tags,
    and ``DEFINITION_LABEL`` for the definition)."""
    if decision not in (TagStatus.APPROVED, TagStatus.REJECTED):
        raise ValueError("decision must be approved or rejected")
    with transaction.atomic():
        locked = Target.objects.select_for_update().get(pk=target.pk)
        if seen is not None and target_seen(locked) != seen:
            raise _changed_since_seen(locked, seen)
        rows = TargetTag.objects.select_for_update().filter(target=target, proposed=True)
        rows = rows.filter(status=TagStatus.PENDING) if tags is None else rows.filter(tag__in=tags)
        changed = [row.tag for row in _decide(list(rows), decision, actor, reason)]
        if tags is None and _decide_definitions([target.pk], decision, actor, reason):
            changed.append(DEFINITION_LABEL)
        target.refresh_from_db(fields=["approval", "approved_tags", "definition_status"])
        node_refresh_status(target.node)
    return changed


def target_tag_redecide(
    *,
    target: Target,
    tag: str,
    decision: str,
    actor: str,
    reason: str,
    seen: str | None = None,
) -> bool:
    """Change the decision on one decided tag: revoke an approved tag (``decision``
    rejected: it is rejected, so the target closes at once and stays closed when the node
    registers the tag again) or approve a rejected one. A reason is required, and it is
    recorded like any decision. With ``seen``, refuse (409) if the target changed since.
    False when the tag already has ``decision`` (another admin was first)."""
    if decision not in (TagStatus.APPROVED, TagStatus.REJECTED):
        raise ValueError("decision must be approved or rejected")
    if not reason.strip():
        raise ApiError(400, "reason_required", "Say why: a changed decision needs a reason.")
    with transaction.atomic():
        locked = Target.objects.select_for_update().select_related("node").get(pk=target.pk)
        row = (
            TargetTag.objects.select_for_update()
            .filter(target=locked, tag=tag, proposed=True)
            .exclude(status=TagStatus.PENDING)
            .first()
        )
        if row is None:
            raise ApiError(
                409, "tag_not_decided", f"{locked.full_name} has no decided tag '{tag}'."
            )
        if row.status == decision:
            return False
        if seen is not None and target_seen(locked) != seen:
            raise _changed_since_seen(locked, seen)
        _decide([row], decision, actor, reason.strip())
        node_refresh_status(locked.node)
    return True


def _pending_rows(node: AgentNode):
    return TargetTag.objects.select_for_update().filter(
        target__node=node, target__active=True, status=TagStatus.PENDING, proposed=True
    )


def _pending_definitions(node: AgentNode) -> list[Target]:
    return list(Target.objects.filter(node=node, active=True, definition_status=TagStatus.PENDING))


def node_tags_approve(
    *,
    node: AgentNode,
    approved_tags: list[str],
    component_tags: dict[str, dict[str, list[str]]],
    actor: str,
    reason: str = "",
) -> list[str]:
    """Upstream's approve-tags. With per-component maps, each named target gets exactly its
    list; otherwise every pending target gets ``proposed ∩ approved_tags``. A pending tag
    left out is rejected, so the target stays uncallable rather than half-approved.
    Returns the node's approved tags afterwards."""
    with transaction.atomic():
        pending = list(_pending_rows(node).select_related("target"))
        definitions = _pending_definitions(node)
        if not pending and not definitions:
            raise _not_pending(node)
        if any(component_tags.values()):
            lists = {
                (kind, name): set(normalize_tags(tags))
                for kind, by_name in component_tags.items()
                for name, tags in by_name.items()
            }
            pending = [r for r in pending if (r.target.kind, r.target.name) in lists]
            definitions = [t for t in definitions if (t.kind, t.name) in lists]
            allowed = {
                row.pk: row.tag in lists[(row.target.kind, row.target.name)] for row in pending
            }
        else:
            wanted = set(normalize_tags(approved_tags))
            allowed = {row.pk: row.tag in wanted for row in pending}
        _decide([r for r in pending if allowed[r.pk]], TagStatus.APPROVED, actor, reason)
        _decide(
            [r for r in pending if not allowed[r.pk]],
            TagStatus.REJECTED,
            actor,
            reason or NOT_LISTED_REASON,
        )
        _decide_definitions([t.pk for t in definitions], TagStatus.APPROVED, actor, reason)
        node_refresh_status(node)
    return node_tags_with_status(node, TagStatus.APPROVED)


def node_tags_reject(*, node: AgentNode, actor: str, reason: str = "") -> list[str]:
    """Upstream's reject-tags: every pending tag and definition of the node is rejected."""
    with transaction.atomic():
        pending = list(_pending_rows(node))
        definitions = _pending_definitions(node)
        if not pending and not definitions:
            raise _not_pending(node)
        _decide(pending, TagStatus.REJECTED, actor, reason)
        _decide_definitions([t.pk for t in definitions], TagStatus.REJECTED, actor, reason)
        node_refresh_status(node)
    return sorted({row.tag for row in pending})


COMPONENT_FIELDS = {
    "reasoner_tags": TargetKind.REASONER,
    "skill_tags": TargetKind.SKILL,
    "session_tags": TargetKind.SESSION,
}
