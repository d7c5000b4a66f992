"""The agent link's bookkeeping: which channel reaches a node's session handlers."""

from __future__ import annotations

from django.utils import timezone

from access_app.models import AgentNode
from access_app.principals import Principal
from access_app.selectors import node_get_for
from sessions_app.models import AgentLink, SessionInstance


def link_node_for(principal: Principal | None, node_id: str) -> AgentNode | None:
    """The node, if ``principal`` may act as it (an agent key bound to it, or an admin)."""
    if principal is None or not principal.acts_as_node(node_id):
        return None
    return node_get_for(principal=principal, node_id=node_id)


def link_open(node: AgentNode, channel_name: str) -> None:
    """The newest link wins: one connection receives each turn, never two."""
    now = timezone.now()
    AgentLink.objects.update_or_create(
        node=node, defaults={"channel_name": channel_name, "connected_at": now, "last_seen_at": now}
    )


def link_touch(node: AgentNode, channel_name: str) -> None:
    AgentLink.objects.filter(node=node, channel_name=channel_name).update(
        last_seen_at=timezone.now()
    )


def link_close(node: AgentNode, channel_name: str) -> None:
    AgentLink.objects.filter(node=node, channel_name=channel_name).delete()


def link_channel(node_id: str) -> str | None:
    return (
        AgentLink.objects.filter(node__node_id=node_id)
        .values_list("channel_name", flat=True)
        .first()
    )


def link_session(node: AgentNode, session_id: str) -> SessionInstance | None:
    """A live session of this node's, for a message the node sent about it."""
    session = SessionInstance.objects.filter(session_id=session_id, node_id=node.node_id).first()
    return session if session is not None and session.is_live else None
