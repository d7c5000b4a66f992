"""Reads of session instances, always scoped to the principal asking."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import QuerySet
from django.utils import timezone

from access_app.access import AccessAllowed, access_check
from access_app.models import AgentNode, Target, TargetKind
from access_app.principals import Principal
from foundation.errors import ApiError
from sessions_app.models import AgentLink, SessionEvent, SessionInstance

SESSION_CLIENT_ROLE = "session_client"
LINK_STALE_AFTER = timedelta(seconds=45)


def sessions_visible_to(principal: Principal) -> QuerySet[SessionInstance]:
    """Admins: all. A session client: its one session. Anyone else: what they started."""
    sessions = SessionInstance.objects.all()
    if principal.is_admin:
        return sessions
    if principal.role == SESSION_CLIENT_ROLE:
        return sessions.filter(session_id=principal.session_id)
    return sessions.filter(owner=principal.id)


def session_get_for(*, principal: Principal, session_id: str) -> SessionInstance | None:
    return sessions_visible_to(principal).filter(session_id=session_id).first()


def session_get_or_404(*, principal: Principal, session_id: str) -> SessionInstance:
    """``session_get_for``, or upstream's 404 (``ApiError``): another caller's session is
    not found, never forbidden."""
    session = session_get_for(principal=principal, session_id=session_id)
    if session is None:
        raise ApiError(404, "session not found")
    return session


def sessions_listed_for(
    principal: Principal, *, target: str = "", status: str = ""
) -> QuerySet[SessionInstance]:
    """The sessions ``principal`` sees, newest first, optionally of one target or status."""
    sessions = sessions_visible_to(principal).order_by("-created_at", "-id")
    if target:
        sessions = sessions.filter(target_name=target)
    if status:
        sessions = sessions.filter(status=status)
    return sessions


def session_events(session: SessionInstance) -> QuerySet[SessionEvent]:
    """The session's replay log in order (``seq`` is the event's id)."""
    return session.events.order_by("id")


def session_targets_live() -> QuerySet[Target]:
    """Every live session target, whoever may start it."""
    return (
        Target.objects.filter(kind=TargetKind.SESSION, active=True, node__isnull=False)
        .select_related("node")
        .prefetch_related("tag_rows")
        .order_by("node__node_id", "name")
    )


def session_targets_startable_by(principal: Principal) -> list[Target]:
    """The live session targets ``access_check`` lets ``principal`` start."""
    return [
        target
        for target in session_targets_live()
        if isinstance(access_check(caller=principal, target=target, input=None), AccessAllowed)
    ]


def session_target_get(node_id: str, name: str) -> Target | None:
    return session_targets_live().filter(node__node_id=node_id, name=name).first()


def session_target_startable_by(principal: Principal, node_id: str, name: str) -> Target | None:
    """The live session target, if ``access_check`` lets ``principal`` start it; else None
    (as for a target that does not exist)."""
    target = session_target_get(node_id, name)
    if target is None:
        return None
    allowed = access_check(caller=principal, target=target, input=None)
    return target if isinstance(allowed, AccessAllowed) else None


def node_link_is_live(node: AgentNode) -> bool:
    return AgentLink.objects.filter(
        node=node, last_seen_at__gte=timezone.now() - LINK_STALE_AFTER
    ).exists()


def sessions_started_by(principal: Principal, *, limit: int = 5) -> list[SessionInstance]:
    """The newest sessions ``principal`` started itself (an admin's too: not everyone's)."""
    sessions = sessions_visible_to(principal).filter(owner=principal.id)
    return list(sessions.order_by("-created_at", "-id")[:limit])


def status_nodes_for(principal: Principal, startable: list[Target]) -> list[AgentNode]:
    """The nodes whose status ``principal`` may see: an admin every node; anyone else only
    the nodes behind the session targets it may start (``startable``: theirs, from
    ``session_targets_startable_by``), whose ids those targets' names already show."""
    if principal.is_admin:
        return list(AgentNode.objects.order_by("node_id"))
    nodes = {target.node.node_id: target.node for target in startable}
    return [nodes[node_id] for node_id in sorted(nodes)]
