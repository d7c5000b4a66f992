"""A registration's targets: upserted, their tags kept per decision, changed reach put
up for review (decision 0015), and their derived approval state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from access_app.models import AgentNode, TagDecision, TagStatus, Target, TargetTag
from access_app.reach import reach_changes, target_reach
from access_app.services.tag_rules import TagTreatment
from access_app.services.target_specs import TargetSpec


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


def targets_sync(
    *, node: AgentNode, specs: list[TargetSpec], treatments: dict[str, TagTreatment]
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
