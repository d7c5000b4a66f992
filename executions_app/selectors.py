"""Reads of executions, always scoped to the principal asking."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from access_app.models import Role
from access_app.principals import Principal
from executions_app.models import Execution


def executions_visible_to(principal: Principal) -> QuerySet[Execution]:
    """Admins see all; others what they started; an agent key also what the node it is
    bound to executes."""
    executions = Execution.objects.all()
    if principal.is_admin:
        return executions
    visible = Q(owner=principal.id)
    if principal.role == Role.AGENT and principal.node_id:
        visible |= Q(target__node__node_id=principal.node_id)
    return executions.filter(visible)


def execution_get_for(*, principal: Principal, execution_id: str) -> Execution | None:
    return executions_visible_to(principal).filter(execution_id=execution_id).first()


def principal_executes(principal: Principal, execution: Execution) -> bool:
    """May report the execution's status: the agent of the node it was dispatched to
    (not an admin: the callback is that node's answer, decision 0016)."""
    return principal.role == Role.AGENT and principal.acts_as_node(execution.target.node.node_id)


def workflow_executions_for(*, principal: Principal, workflow_id: str) -> list[Execution]:
    """The whole workflow, if the principal may see at least one of its executions."""
    if not executions_visible_to(principal).filter(workflow_id=workflow_id).exists():
        return []
    return list(Execution.objects.filter(workflow_id=workflow_id).order_by("created_at", "id"))
