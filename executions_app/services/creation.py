"""Accepting an execution: resolve the target, check access, write the row, enqueue.

Used by ``POST /execute/async``, the sync route and session tool calls. A refusal is an
``ApiError`` with upstream's body.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from access_app.access import AccessDenied, access_check, target_approved_tags
from access_app.models import Role
from access_app.principals import Principal
from access_app.read_cache import one_version
from access_app.selectors import target_resolve
from executions_app.ids import new_execution_id, new_run_id
from executions_app.models import Execution, WorkflowRun
from executions_app.queue import enqueue_dispatch_on_commit
from executions_app.selectors import executions_visible_to
from executions_app.services.webhooks import InvalidWebhook, webhook_validate
from executions_app.session_binding import SessionBinding, session_bind
from foundation.errors import ApiError

RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9_\-.:]{1,64}$")


@dataclass
class ExecutionRequest:
    target: str
    input: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)
    webhook: dict[str, Any] | None = None
    session_id: str = ""
    run_id: str = ""
    parent_execution_id: str = ""
    actor_id: str = ""


@dataclass
class Accepted:
    execution: Execution
    webhook_error: str = ""


def _target_parts(target: str) -> tuple[str, str]:
    parts = target.split(".")
    if len(parts) != 2 or not all(part.strip() for part in parts):
        raise ApiError(400, "target must be <node>.<name>")
    return parts[0].strip(), parts[1].strip()


@dataclass(frozen=True)
class Lineage:
    run_id: str
    workflow_id: str
    depth: int
    session_id: str
    inherited: bool  # the session came from a visible parent
    parent: Execution | None = None
    chosen_run: bool = False  # X-Run-ID: claimed once access is granted


def _run_claim(principal: Principal, run_id: str) -> None:
    """Join the run ``run_id`` names, or claim it when new; 404 when it is someone else's.

    The claim is one INSERT on a unique column (its own autocommit, or a savepoint), so of
    two callers racing for a new run id exactly one gets it; the other finds it taken.
    Made only once access is granted, so a refused caller cannot squat a run id.
    """
    run, _ = WorkflowRun.objects.get_or_create(run_id=run_id, defaults={"owner": principal.id})
    if executions_visible_to(principal).filter(run_id=run_id).exists():
        return  # a run the caller already takes part in (or may see, as an admin)
    if run.owner == principal.id and not Execution.objects.filter(run_id=run_id).exists():
        return  # the caller's claim, with nothing of anyone else's in it
    raise ApiError(404, "run not found")


def _lineage(principal: Principal, request: ExecutionRequest) -> Lineage:
    """Where the execution sits: a child joins its parent's workflow and session."""
    if request.parent_execution_id:
        parent = (
            executions_visible_to(principal)
            .select_related("target__node")
            .filter(execution_id=request.parent_execution_id)
            .first()
        )
        if parent is None:
            raise ApiError(404, "parent execution not found")
        session_id = request.session_id or parent.session_id
        inherited = bool(parent.session_id) and session_id == parent.session_id
        return Lineage(
            parent.run_id, parent.workflow_id, parent.depth + 1, session_id, inherited, parent
        )
    if request.run_id:
        if not RUN_ID_PATTERN.match(request.run_id):
            raise ApiError(400, "X-Run-ID is not a valid run id")
        return Lineage(request.run_id, request.run_id, 0, request.session_id, False, None, True)
    run_id = new_run_id()
    return Lineage(run_id, run_id, 0, request.session_id, False)


def _may_delegate(principal: Principal, parent: Execution | None) -> bool:
    """Who may name another actor with ``X-Actor-ID`` (decision 0016): an admin, or an agent
    key making a child call of an execution its own node runs (it passes on the actor it
    was called for). Anyone else only claims one."""
    if principal.is_admin:
        return True
    return (
        principal.role == Role.AGENT
        and bool(principal.node_id)
        and parent is not None
        and parent.target.node.node_id == principal.node_id
    )


def _actor(
    principal: Principal, request: ExecutionRequest, binding: SessionBinding, parent
) -> tuple[str, str]:
    """(actor_id signed in the provenance record, claimed_actor_id kept beside it)."""
    claimed = request.actor_id
    if binding.actor_id:  # a session's tool call: its starter is the actor
        actor = binding.actor_id
    elif claimed and _may_delegate(principal, parent):
        actor = claimed
    else:
        actor = principal.id
    return actor, "" if claimed in ("", actor) else claimed


def execution_create(
    *, principal: Principal, request: ExecutionRequest, binding: SessionBinding | None = None
) -> Accepted:
    """``binding``: given by a caller that has resolved the session already (the session's
    own tool calls), so that the session is not read again."""
    node_id, name = _target_parts(request.target)
    with one_version():  # the target and the policies, read under one token
        target = target_resolve(node_id, name)
        if target is None:
            raise ApiError(404, f"target '{node_id}.{name}' not found")
        lineage = _lineage(principal, request)
        session_id = lineage.session_id
        if binding is None:
            binding = SessionBinding(principal=principal)
            if session_id and not lineage.inherited:
                binding = session_bind(principal, session_id, target.full_name)
        caller = binding.principal
        decision = access_check(caller=caller, target=target, input=request.input)
    if isinstance(decision, AccessDenied):
        raise decision.api_error()
    if lineage.chosen_run:
        _run_claim(principal, lineage.run_id)
    webhook_error = ""
    spec = None
    if request.webhook:
        try:
            spec = webhook_validate(request.webhook)
        except InvalidWebhook as exc:
            webhook_error = str(exc)
    actor_id, claimed_actor_id = _actor(principal, request, binding, lineage.parent)
    # One INSERT in autocommit, then the enqueue: if the process dies between the two, the
    # row is still queued and the recovery sweep enqueues it again.
    execution = Execution.objects.create(
        execution_id=new_execution_id(),
        run_id=lineage.run_id,
        workflow_id=lineage.workflow_id,
        parent_execution_id=request.parent_execution_id,
        depth=lineage.depth,
        target=target,
        target_name=target.full_name,
        target_type=target.kind,
        input=request.input,
        context=request.context,
        owner=caller.id,
        actor_id=actor_id,
        claimed_actor_id=claimed_actor_id,
        session_id=session_id,
        caller_tags=sorted(caller.tags),
        target_tags=target_approved_tags(target),
        enqueued_at=timezone.now(),
        webhook_url=spec.url if spec else "",
        webhook_secret=spec.secret if spec else "",
        webhook_headers=spec.headers if spec else {},
    )
    if binding.on_created is not None:
        binding.on_created(execution)
    enqueue_dispatch_on_commit(execution.execution_id)
    return Accepted(execution=execution, webhook_error=webhook_error)
