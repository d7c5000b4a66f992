"""The approvals page: admins (superusers) review proposed tags, per tag or per target."""

from __future__ import annotations

from itertools import groupby

from django.contrib import messages
from django.contrib.auth.decorators import user_passes_test
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from access_app import selectors
from access_app.models import TagStatus, Target
from access_app.principals import Principal, user_is_admin
from access_app.reach import reach_changes
from access_app.serializers import target_out
from access_app.services.approvals import ChangedSinceSeen, target_seen, target_tags_decide

admin_required = user_passes_test(user_is_admin)  # is_staff alone is not enough


def _shown(value: object) -> str | None:
    """A reach value as the approvals page shows it (lists as ``a, b``; nothing as None)."""
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "(none)"
    return None if value is None else str(value)


@admin_required
def approvals(request):
    pending = [
        target_out(t)
        | {
            "pk": t.pk,
            "node": t.node,
            "definition_pending": t.definition_status == TagStatus.PENDING,
            "changes": [
                c | {"old": _shown(c["old"]), "new": _shown(c["new"])}
                for c in reach_changes(t.approved_reach, t.reach)
            ],
            "first_review": t.approved_reach is None,
            "seen": target_seen(t),
        }
        for t in selectors.targets_with_pending_tags()
    ]
    groups = [
        {"node": node, "targets": list(targets)}
        for node, targets in groupby(pending, key=lambda item: item["node"])
    ]
    visible = list(selectors.nodes_visible_to(Principal.from_user(request.user)))
    # Who may act as each node: the keys bound to it (decision 0015).
    owners = selectors.node_owners([g["node"] for g in groups] + visible)
    for group in groups:
        group["owners"] = owners.get(group["node"].node_id, [])
    nodes = [
        {
            "node": node,
            "owners": owners.get(node.node_id, []),
            "targets": [target_out(t) for t in node.live_targets],
        }
        for node in visible
    ]
    return render(
        request,
        "access/approvals.html",
        {
            "groups": groups,
            "pending_count": len(pending),
            "nodes": nodes,
            "decisions": selectors.recent_decisions(),
        },
    )


@admin_required
@require_POST
def approvals_decide(request):
    target = get_object_or_404(Target.objects.select_related("node"), pk=request.POST.get("target"))
    decision, _, tag = request.POST.get("op", "").partition("|")
    if decision not in (TagStatus.APPROVED, TagStatus.REJECTED) or not tag:
        messages.error(request, "Choose approve or reject for a tag or for the whole target.")
        return redirect("approvals")
    reason = request.POST.get("reason", "").strip()[:2000]
    try:
        changed = target_tags_decide(
            target=target,
            decision=decision,
            actor=Principal.from_user(request.user).actor,
            reason=reason,
            tags=None if tag == "*" else [tag],
            seen=request.POST.get("seen") or None,
        )
    except ChangedSinceSeen:
        messages.error(
            request,
            f"{target.full_name} was registered again since this page was loaded; "
            "nothing was decided. Review it again.",
        )
        return redirect("approvals")
    verb = "Approved" if decision == TagStatus.APPROVED else "Rejected"
    if changed:
        listed = ", ".join(changed)
        messages.success(request, f"{verb} {listed} on {target.full_name}.")
    else:
        messages.info(request, f"Nothing changed on {target.full_name}.")
    return redirect("approvals")
