"""The approvals page: admins (superusers) review proposed tags, per tag or per target."""

from __future__ import annotations

from itertools import groupby

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from access_app import selectors
from access_app.api_shapes import TargetOutSerializer
from access_app.models import AgentNode, TagStatus, Target
from access_app.principals import page_principal, principal_required
from access_app.reach import reach_changes
from access_app.services.approvals import target_seen, target_tags_decide
from foundation.errors import ApiError

admin_required = principal_required(admin=True)  # is_staff alone is not enough


def _shown(value: object) -> str | None:
    """A reach value as the approvals page shows it (lists as ``a, b``; nothing as None)."""
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "(none)"
    return None if value is None else str(value)


def _pending_item(target: Target) -> dict:
    """A target waiting for a decision, as its form shows it."""
    return TargetOutSerializer(target).data | {
        "pk": target.pk,
        "node": target.node,
        "definition_pending": target.definition_status == TagStatus.PENDING,
        "changes": [
            change | {"old": _shown(change["old"]), "new": _shown(change["new"])}
            for change in reach_changes(target.approved_reach, target.reach)
        ],
        "first_review": target.approved_reach is None,
        "seen": target_seen(target),
    }


def _node_rows(nodes: list[AgentNode], owners: dict) -> list[dict]:
    return [
        {
            "node": node,
            "owners": owners.get(node.node_id, []),
            "targets": TargetOutSerializer(node.live_targets, many=True).data,
        }
        for node in nodes
    ]


@admin_required
def approvals(request):
    pending = [_pending_item(t) for t in selectors.targets_with_pending_tags()]
    groups = [
        {"node": node, "targets": list(targets)}
        for node, targets in groupby(pending, key=lambda item: item["node"])
    ]
    visible = list(selectors.nodes_visible_to(page_principal(request)))
    # Who may act as each node: the keys bound to it (decision 0015).
    owners = selectors.node_owners([g["node"] for g in groups] + visible)
    for group in groups:
        group["owners"] = owners.get(group["node"].node_id, [])
    context = {
        "groups": groups,
        "pending_count": len(pending),
        "nodes": _node_rows(visible, owners),
        "decisions": selectors.recent_decisions(),
    }
    return render(request, "access/approvals.html", context)


def _decided(request, decision: str, changed: list[str], target: Target) -> None:
    verb = "Approved" if decision == TagStatus.APPROVED else "Rejected"
    if changed:
        messages.success(request, f"{verb} {', '.join(changed)} on {target.full_name}.")
    else:
        messages.info(request, f"Nothing changed on {target.full_name}.")


@admin_required
@require_POST
def approvals_decide(request):
    target = get_object_or_404(Target.objects.select_related("node"), pk=request.POST.get("target"))
    decision, _, tag = request.POST.get("op", "").partition("|")
    if decision not in (TagStatus.APPROVED, TagStatus.REJECTED) or not tag:
        messages.error(request, "Choose approve or reject for a tag or for the whole target.")
        return redirect("approvals")
    try:
        changed = target_tags_decide(
            target=target,
            decision=decision,
            actor=page_principal(request).actor,
            reason=request.POST.get("reason", "").strip()[:2000],
            tags=None if tag == "*" else [tag],
            seen=request.POST.get("seen") or None,
        )
    except ApiError as refused:  # changed since the page was loaded: nothing decided
        messages.error(request, refused.message)
    else:
        _decided(request, decision, changed, target)
    return redirect("approvals")
