"""Reads of executions, always scoped to the principal asking; one it may not see is a 404."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from access_app.models import Role
from access_app.principals import Principal
from executions_app.dag import WorkflowDag
from executions_app.models import Execution
from foundation.errors import ApiError

EXECUTION_NOT_FOUND = "execution not found"


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


def execution_get_for(*, principal: Principal, execution_id: str) -> Execution:
    """The execution, if the principal may see it; else 404, as for one that does not exist."""
    execution = executions_visible_to(principal).filter(execution_id=execution_id).first()
    if execution is None:
        raise ApiError(404, EXECUTION_NOT_FOUND)
    return execution


def execution_executed_by(*, principal: Principal, execution_id: str) -> Execution:
    """The execution, if ``principal`` is its executing node; else 404 (not 403: to anyone
    else it might as well not exist)."""
    execution = execution_get_for(principal=principal, execution_id=execution_id)
    if not principal_executes(principal, execution):
        raise ApiError(404, EXECUTION_NOT_FOUND)
    return execution


def principal_executes(principal: Principal, execution: Execution) -> bool:
    """May report the execution's status: the agent of the node it was dispatched to
    (not an admin: the callback is that node's answer, decision 0016)."""
    return principal.role == Role.AGENT and principal.acts_as_node(execution.target.node.node_id)


def workflow_executions_for(*, principal: Principal, workflow_id: str) -> list[Execution]:
    """The whole workflow, if the principal may see at least one of its executions."""
    if not executions_visible_to(principal).filter(workflow_id=workflow_id).exists():
        return []
    return list(Execution.objects.filter(workflow_id=workflow_id).order_by("created_at", "id"))


def workflow_dag_for(*, principal: Principal, workflow_id: str) -> WorkflowDag:
    executions = workflow_executions_for(principal=principal, workflow_id=workflow_id)
    if not executions:
        raise ApiError(404, "workflow not found")
    return WorkflowDag(workflow_id, executions)


def executions_status_for(
    *, principal: Principal, execution_ids: list[str]
) -> dict[str, Execution | None]:
    """Each id asked for, in order, with its execution if the principal may see it."""
    found = executions_visible_to(principal).filter(execution_id__in=execution_ids)
    by_id = {e.execution_id: e for e in found}
    return {execution_id: by_id.get(execution_id) for execution_id in execution_ids}
