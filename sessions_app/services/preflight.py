"""May this principal start this session target now, and if not, why and whom to ask.

Read-only: the voice page asks it before it asks for the microphone. The checks are the
start's own (``session_start_check``), then what would make the call fail right after it
started: the provider's settings, the node reporting itself offline, the live-session cap.

Visibility is the start route's scoping widened to a target that waits for approval: a
caller sees a target when the access policies would let them start it once its declared
(not rejected) tags are approved; an admin sees every live target. Anything else is the
same 404 as a target that does not exist.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from access_app.access import AccessAllowed, access_check
from access_app.models import NodeStatus, TagStatus, Target
from access_app.principals import Principal
from foundation.errors import ApiError
from sessions_app import selectors
from sessions_app.providers import provider_missing_setting
from sessions_app.services.starting import (
    live_session_deadlines,
    session_start_check,
    session_target_split,
)

# reason -> who can change it
ASK = {
    "tags_pending": "admin",
    "definition_pending": "admin",
    "tags_rejected": "admin",
    "access_denied": "admin",
    "session_unavailable": "operator",
    "provider_not_configured": "operator",
    "node_offline": "node_operator",
    "handler_not_connected": "node_operator",
    "too_many_live_sessions": "caller",
}


@dataclass(frozen=True)
class Preflight:
    target: str
    startable: bool
    reason: str = ""
    message: str = ""
    error: str = ""  # the code the start route answers for it, when it refuses
    pending_tags: list[str] = field(default_factory=list)
    approvals_url: str = ""

    node_id: str = ""
    admin: bool = False  # the principal asking is an admin: "approve", not "ask an admin"

    @property
    def ask(self) -> str:
        return ASK.get(self.reason, "")

    @property
    def hint(self) -> str:
        """What to do about it, and whom to ask."""
        approve = "Approve" if self.admin else "Ask an admin to approve"
        reverse_it = "Reverse" if self.admin else "Ask an admin to reverse"
        operator = "Ask the operator of this control plane to"
        node_runner = f"Ask whoever runs agent node {self.node_id} to start it."
        hints = {
            "tags_pending": f"{approve} the tags {', '.join(self.pending_tags)} on the "
            "Approvals page.",
            "definition_pending": f"{approve} its definition on the Approvals page.",
            "tags_rejected": f"{reverse_it} the rejection on the Approvals page.",
            "access_denied": "Ask an admin for an access policy that lets your caller tags "
            "start it.",
            "session_unavailable": f"{operator} enable it.",
            "provider_not_configured": f"{operator} configure the provider.",
            "node_offline": node_runner,
            "handler_not_connected": node_runner,
            "too_many_live_sessions": "End one of your live calls first.",
        }
        return hints.get(self.reason, "")


def _declared_tags(target: Target) -> tuple[list[str], list[str]]:
    """(declared tags not rejected, those of them still pending) of the target."""
    rows = [row for row in target.tag_rows.all() if row.proposed]
    declared = sorted(row.tag for row in rows if row.status != TagStatus.REJECTED)
    pending = sorted(row.tag for row in rows if row.status == TagStatus.PENDING)
    return declared, pending


def _visible_to(principal: Principal, target: Target, declared: list[str]) -> bool:
    """The one access decision, on the target as if its declared tags were approved."""
    if principal.is_admin:
        return True
    approved = copy.copy(target)  # never modify a row that may be shared (read cache)
    approved.approval = approved.definition_status = TagStatus.APPROVED
    approved.approved_tags = declared
    return isinstance(access_check(caller=principal, target=approved, input=None), AccessAllowed)


def session_target_visible_or_404(principal: Principal, target: str) -> Target:
    """The live session target if ``principal`` may see it (above), else ``ApiError`` 404."""
    node_id, name = session_target_split(target)
    session_target = selectors.session_target_get(node_id, name)
    if session_target is None:
        raise ApiError(404, "session not registered")
    declared, _ = _declared_tags(session_target)
    if not _visible_to(principal, session_target, declared):
        raise ApiError(404, "session not registered")
    return session_target


def session_start_preflight(*, principal: Principal, target: str) -> Preflight:
    session_target = session_target_visible_or_404(principal, target)
    full_name = session_target.full_name
    _, pending = _declared_tags(session_target)
    approvals = reverse("approvals")

    def refused(reason: str, message: str, error: str = "") -> Preflight:
        waits = reason in ("tags_pending", "definition_pending")
        return Preflight(
            target=full_name,
            startable=False,
            reason=reason,
            message=message,
            error=error,
            pending_tags=pending if waits else [],
            approvals_url=approvals if ASK.get(reason) == "admin" else "",
            node_id=session_target.node.node_id,
            admin=principal.is_admin,
        )

    try:
        plan = session_start_check(principal=principal, target=full_name)
    except ApiError as exc:
        return refused(_reason_of(exc, pending), exc.message or exc.error, exc.error)
    missing = provider_missing_setting(plan.provider)
    if missing:
        return refused("provider_not_configured", missing)
    if session_target.node.status == NodeStatus.OFFLINE:
        return refused("node_offline", f"agent node {session_target.node.node_id} is offline")
    cap = settings.AGENTFIELD_MAX_LIVE_SESSIONS_PER_CALLER
    if len(live_session_deadlines(principal, timezone.now())) >= cap:
        message = f"a caller may have at most {cap} live sessions; end one first"
        return refused("too_many_live_sessions", message, "too_many_live_sessions")
    return Preflight(target=full_name, startable=True)


def _reason_of(exc: ApiError, pending_tags: list[str]) -> str:
    if exc.error == "agent_pending_approval":  # its tags, else its definition (decision 0015)
        return "tags_pending" if pending_tags else "definition_pending"
    if exc.error == "target_tags_rejected":
        return "tags_rejected"
    if exc.error in ("access_denied", "no_policy_matched"):
        return "access_denied"
    if exc.status_code == 503:  # the session's handler is not connected over the link
        return "handler_not_connected"
    return "session_unavailable"  # this deployment cannot run it as declared
