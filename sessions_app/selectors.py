"""Reads of session instances, always scoped to the principal asking."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import QuerySet
from django.utils import timezone

from access_app.access import AccessAllowed, access_check
from access_app.models import AgentNode, Target, TargetKind
from access_app.principals import Principal
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


def session_events_after(session: SessionInstance, after: int, limit: int) -> list[SessionEvent]:
    return list(session.events.filter(id__gt=after).order_by("id")[:limit])


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
