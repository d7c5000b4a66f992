"""The approvals page: admins (superusers) review proposed tags, per tag or per target, with
what approving each lets happen; revoke an approved tag or approve a rejected one, with a
reason; and find the link to try what is callable."""

from __future__ import annotations

from itertools import groupby

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from access_app import selectors
from access_app.api_shapes import TargetOutSerializer
from access_app.models import AgentNode, TagStatus, Target
from access_app.principals import page_principal, principal_required
from access_app.reach import reach_changes
from access_app.services.approvals import target_seen, target_tag_redecide, target_tags_decide
from foundation.errors import ApiError

admin_required = principal_required(admin=True)  # is_staff alone is not enough


def _shown(value: object) -> str | None:
    """A reach value as the approvals page shows it (lists as ``a, b``; nothing as None)."""
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "(none)"
    return None if value is None else str(value)


# A decided tag changes only through these ops (with a reason), never ``approved|<tag>``.
CHANGE_OPS = {"revoke": TagStatus.REJECTED, "reverse": TagStatus.APPROVED}


def _try_link(target: Target) -> dict:
    """Where to try a callable target: a session's voice page; a reasoner's or skill's
    execute route, documented on the API docs page."""
    if target.kind == "session":
        return {"href": reverse("voice-page", args=[target.full_name]), "label": "Open its call"}
    return {
        "href": reverse("api-docs"),
        "label": "API docs",
        "route": "POST " + reverse("execute-sync", args=[target.full_name]),
    }


def _decided_item(target: Target) -> dict:
    """A live target with decided tags, as its revoke/reverse form shows it."""
    rows = [row for row in target.tag_rows.all() if row.proposed]
    return TargetOutSerializer(target).data | {
        "pk": target.pk,
        "seen": target_seen(target),
        "decided": [row for row in rows if row.status != TagStatus.PENDING],
        "try": _try_link(target) if target.approval == TagStatus.APPROVED else None,
    }


def _pending_item(target: Target, effects) -> dict:
    """A target waiting for a decision, as its form shows it, with what approving each
    pending tag lets happen (``selectors.approval_effects``)."""
    shown = TargetOutSerializer(target).data
    return shown | {
        "pk": target.pk,
        "node": target.node,
        "effects": effects,
        "pending_effects": [
            {
                "tag": tag,
                "policies": effects.by_tag.get(tag, []),
                "calls": effects.calls_by_tag.get(tag),
            }
            for tag in shown["pending_tags"]
        ],
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
            "targets": [
                TargetOutSerializer(target).data
                | {"try": _try_link(target) if target.approval == TagStatus.APPROVED else None}
                for target in node.live_targets
            ],
        }
        for node in nodes
    ]


@admin_required
def approvals(request):
    targets = list(selectors.targets_with_pending_tags())
    effects = selectors.approval_effects(targets)
    pending = [_pending_item(t, effects[t.pk]) for t in targets]
    decided = [_decided_item(t) for t in selectors.targets_with_decided_tags()]
    groups = [
        {"node": node, "targets": list(targets)}
        for node, targets in groupby(pending, key=lambda item: item["node"])
    ]
    visible = list(selectors.nodes_visible_to(page_principal(request)))
    # Who may act as each node: the keys bound to it (decision 0015).
    owners = selectors.node_owners([g["node"] for g in groups] + visible)
    for group in groups:
        group["owners"] = owners.get(group["node"].node_id, [])
    rows = _node_rows(visible, owners)
    context = {
        "groups": groups,
        "pending_count": len(pending),
        "nodes": rows,
        "decided": decided,
        # Nothing left to decide: the page leads to trying what is callable now.
        "ready": [] if pending else [t for n in rows for t in n["targets"] if t["try"]],
        "decisions": selectors.recent_decisions(),
    }
    return render(request, "access/approvals.html", context)


def _decided(request, decision: str, changed: list[str], target: Target) -> None:
    verb = "Approved" if decision == TagStatus.APPROVED else "Rejected"
    if not changed:
        messages.info(request, f"Nothing changed on {target.full_name}.")
        return
    text = f"{verb} {', '.join(changed)} on {target.full_name}."
    if target.approval == TagStatus.APPROVED:
        text += " It is callable now: the page links to try it."
    messages.success(request, text)


def _changed(request, op: str, tag: str, changed: bool, target: Target) -> None:
    name = target.full_name
    if not changed:
        state = "rejected" if op == "revoke" else "approved"
        messages.info(request, f"Nothing changed: {tag} on {name} was already {state}.")
    elif op == "revoke":
        messages.success(
            request, f"Revoked {tag} on {name}: it is rejected now, so {name} takes no new calls."
        )
    else:
        messages.success(request, f"Approved {tag} on {name} (it was rejected).")


@admin_required
@require_POST
def approvals_decide(request):
    target = get_object_or_404(Target.objects.select_related("node"), pk=request.POST.get("target"))
    decision, _, tag = request.POST.get("op", "").partition("|")
    if decision in CHANGE_OPS and tag and tag != "*":
        return _change(request, target, decision, tag)
    if decision not in (TagStatus.APPROVED, TagStatus.REJECTED) or not tag:
        # Also what a form submitted without one of its buttons (Enter) would send.
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


def _change(request, target: Target, op: str, tag: str):
    """Revoke an approved tag or approve a rejected one (``CHANGE_OPS``), with a reason."""
    try:
        changed = target_tag_redecide(
            target=target,
            tag=tag,
            decision=CHANGE_OPS[op],
            actor=page_principal(request).actor,
            reason=request.POST.get("reason", "").strip()[:2000],
            seen=request.POST.get("seen") or None,
        )
    except ApiError as refused:
        messages.error(request, refused.message)
    else:
        target.refresh_from_db(fields=["approval"])
        _changed(request, op, tag, changed, target)
    return redirect("approvals")
