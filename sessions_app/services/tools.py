"""Tool calls from a live session: the allowlist, then the normal execution path.

The REST tool route and the realtime model's function calls both come here. The
session's approved tags are the caller tags; the person who started it is the actor.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import F

from access_app.models import Role
from access_app.principals import Principal
from access_app.selectors import node_get_for
from executions_app.models import Execution
from executions_app.services.creation import Accepted, ExecutionRequest, execution_create
from executions_app.session_binding import SessionBinding
from foundation.errors import ApiError
from sessions_app.hints import notify_session_on_commit
from sessions_app.models import SessionEvent, SessionInstance
from sessions_app.services.events import session_event_append
from sessions_app.services.lifecycle import session_ensure_live


def session_tool_target(session: SessionInstance, tool: str, target: str = "") -> str:
    """The full target a call names, if the session allows it.

    An explicit ``target`` must be ``<node>.<reasoner>`` (upstream's 400); a bare tool name
    is looked up among the session's short names, and either way the allowlist decides.
    """
    tool, target = tool.strip(), (target or "").strip()
    if target and "." not in target:
        raise ApiError(400, "session tool target must be <node>.<reasoner>")
    target = target or session.tool_targets.get(tool, tool)
    allowed = sorted(set(session.tool_targets.values()))
    if target not in allowed:
        permitted = f"Allowed: {', '.join(allowed)}" if allowed else "This session allows no tools."
        refusal = f"tool '{tool}' is not allowed for session {session.target_name}. {permitted}"
        raise ApiError(403, refusal)
    return target


def _announce_to_live_call(
    session: SessionInstance, tool: str, execution: Execution, by: str = ""
) -> None:
    """Tell the runtime holding the call about a tool call it did not make itself (the
    handler's, ``by="handler"``, or the REST route's), so the caller sees it too; the
    runtime follows it."""
    message = {
        "type": "session.tool_call",
        "tool": tool,
        "execution_id": execution.execution_id,
        "arguments": execution.input,
    }
    if by:
        message["by"] = by
    notify_session_on_commit(session.session_id, message)


def session_tool_principal(session: SessionInstance) -> Principal:
    """Policies see the session's tags, never the starter's own (even an admin's)."""
    return Principal(
        id=session.owner, role=Role.CALLER, tags=tuple(session.tags), name=session.owner_name
    )


def session_tool_call(
    *,
    session: SessionInstance,
    tool: str,
    target: str = "",
    input: dict[str, Any] | None = None,
    call_id: str = "",
) -> Accepted:
    """Queue the execution with the session id attached; log ``tool.call``."""
    session_ensure_live(session)
    full_target = session_tool_target(session, tool, target)
    request = ExecutionRequest(
        target=full_target, input=input or {}, session_id=session.session_id, actor_id=session.owner
    )
    principal = session_tool_principal(session)
    with transaction.atomic():
        # The starter's own call on their session: the binding the session's rule gives it.
        accepted = execution_create(
            principal=principal, request=request, binding=SessionBinding(principal=principal)
        )
        SessionInstance.objects.filter(pk=session.pk).update(tool_calls=F("tool_calls") + 1)
        session_event_append(
            session,
            "tool.call",
            {
                "tool": tool,
                "target": full_target,
                "call_id": call_id,
                "execution_id": accepted.execution.execution_id,
                "input": input or {},
            },
        )
        if not call_id:  # the REST route's; the runtime announces the model's own calls
            _announce_to_live_call(session, tool, accepted.execution)
    return accepted


def _acts_as_node(principal: Principal, node_id: str) -> bool:
    return (
        principal.role == Role.AGENT
        and node_get_for(principal=principal, node_id=node_id) is not None
    )


def session_execution_binding(principal: Principal, session_id: str, target: str) -> SessionBinding:
    """The rule for ``X-Session-ID`` on an execute call (registered with executions_app).

    The session's own node (its handler's ``session.call`` or ``app.call``) makes an
    ordinary execution of the session: any target the policies allow with the session's
    tags (the allowlist governs only the model's and the REST route's calls), the starter as
    actor and owner, and a ``tool.call`` marked ``"by": "handler"`` in the log. The starter
    (or an admin) may attach their own calls; anyone else gets not found. An id that names
    no session instance is upstream's free conversation key: recorded as given.
    """
    session = SessionInstance.objects.filter(session_id=session_id).first()
    if session is None:
        return SessionBinding(principal=principal)
    if _acts_as_node(principal, session.node_id):
        session_ensure_live(session)

        def log_call(execution: Execution) -> None:
            SessionInstance.objects.filter(pk=session.pk).update(tool_calls=F("tool_calls") + 1)
            tool = target.split(".", 1)[1]
            call = {"tool": tool, "target": target, "call_id": ""}
            call.update(execution_id=execution.execution_id, input=execution.input, by="handler")
            session_event_append(session, "tool.call", call)
            _announce_to_live_call(session, tool, execution, by="handler")

        return SessionBinding(
            principal=session_tool_principal(session), actor_id=session.owner, on_created=log_call
        )
    if principal.is_admin or principal.id == session.owner:
        return SessionBinding(principal=principal)
    raise ApiError(404, "session not found")


def tool_result_record(execution: Execution) -> SessionEvent | None:
    """Log ``tool.result`` for an execution a session's tool call started (once)."""
    call = (
        SessionEvent.objects.filter(
            execution_id=execution.execution_id,
            type="tool.call",
            session__session_id=execution.session_id,
        )
        .only("session_id", "data")
        .first()
    )
    if call is None:
        return None
    already = SessionEvent.objects.filter(
        execution_id=execution.execution_id, type="tool.result"
    ).exists()
    if already:
        return None
    result = {
        "execution_id": execution.execution_id,
        "tool": call.data.get("tool", ""),
        "call_id": call.data.get("call_id", ""),
        "status": execution.status,
        "duration_ms": execution.duration_ms,
        "error": execution.error_message or None,
    }
    if call.data.get("by"):
        result["by"] = call.data["by"]
    return session_event_append(call.session_id, "tool.result", result)
