"""Running a model's function call through the session tool path and waiting for it."""

from __future__ import annotations

import json
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from access_app.models import Target, TargetKind
from executions_app.models import Status
from executions_app.waiting import wait_for_execution_end
from foundation.errors import ApiError
from sessions_app.models import SessionInstance
from sessions_app.providers.base import ToolSpec
from sessions_app.services.tools import session_tool_call

DEFAULT_PARAMETERS = {"type": "object", "properties": {}, "additionalProperties": True}


def tool_specs(session: SessionInstance) -> tuple[ToolSpec, ...]:
    """The allowlist as function tools, with the reasoners' JSON schemas when registered."""
    specs = []
    for short, full in sorted(session.tool_targets.items()):
        node_id, _, name = full.partition(".")
        target = (
            Target.objects.filter(
                node__node_id=node_id,
                name=name,
                kind__in=(TargetKind.REASONER, TargetKind.SKILL),
                active=True,
            )
            .only("definition")
            .first()
        )
        definition = target.definition if target else {}
        schema = definition.get("input_schema")
        specs.append(
            ToolSpec(
                name=short,
                description=definition.get("description") or f"Calls {full} through AgentField.",
                parameters=schema if isinstance(schema, dict) and schema else DEFAULT_PARAMETERS,
            )
        )
    return tuple(specs)


@database_sync_to_async
def tool_call_start(session: SessionInstance, *, name: str, arguments: dict, call_id: str):
    """Queue the call; returns the execution id, or raises with the API error body."""
    accepted = session_tool_call(session=session, tool=name, input=arguments, call_id=call_id)
    return accepted.execution.execution_id


def refusal_output(exc: ApiError) -> str:
    """What the model hears when a call is refused, so it can say so instead of waiting."""
    return json.dumps({"error": exc.body})


def tool_error_body(message: str) -> dict[str, str]:
    """A call that could not be made (bad arguments, an unexpected failure)."""
    return {"error": "tool_call_failed", "message": message}


def tool_error_output(message: str) -> str:
    """What the model hears then, so the call goes on instead of waiting for a result."""
    return json.dumps({"error": tool_error_body(message)})


async def tool_call_wait(execution_id: str) -> tuple[str, dict[str, Any]]:
    """(output for the model, result summary for the client) once the execution ends."""
    execution = await wait_for_execution_end(execution_id, settings.AGENTFIELD_AGENT_CALL_TIMEOUT)
    status = execution.status if execution else "unknown"
    summary: dict[str, Any] = {
        "execution_id": execution_id,
        "status": status,
        "duration_ms": execution.duration_ms if execution else None,
        # the execution's workflow page (``/workflows/<id>/``), for the voice page's link
        "workflow_id": execution.workflow_id if execution else None,
    }
    if execution is not None and status == Status.SUCCEEDED:
        summary["result"] = execution.result
        return json.dumps(execution.result, default=str), summary
    error = (execution.error_message if execution else "") or f"the tool call ended {status}"
    summary["error"] = error
    return json.dumps({"error": error, "status": status}), summary
