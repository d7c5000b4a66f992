"""Input (strict) and output shapes of the execution API (upstream's field names)."""

from __future__ import annotations

from rest_framework import serializers

from access_app.serializers import StrictSerializer
from executions_app.models import Execution


class WebhookInSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=2000)
    secret = serializers.CharField(required=False, allow_blank=True, max_length=4096)
    headers = serializers.DictField(child=serializers.CharField(), required=False)


class ExecuteInSerializer(StrictSerializer):
    input = serializers.DictField(required=False, allow_null=True)
    context = serializers.DictField(required=False, allow_null=True)
    webhook = WebhookInSerializer(required=False, allow_null=True)


class ExecuteAcceptedSerializer(serializers.Serializer):
    execution_id = serializers.CharField()
    run_id = serializers.CharField()
    workflow_id = serializers.CharField()
    status = serializers.CharField()
    target = serializers.CharField()
    type = serializers.CharField()
    created_at = serializers.DateTimeField()
    enqueued_at = serializers.DateTimeField()
    session_id = serializers.CharField(allow_null=True)
    webhook_registered = serializers.BooleanField()
    webhook_error = serializers.CharField(required=False)


def accepted_out(execution: Execution, webhook_error: str = "") -> dict:
    body = {
        "execution_id": execution.execution_id,
        "run_id": execution.run_id,
        "workflow_id": execution.workflow_id,
        "status": execution.status,
        "target": execution.target_name,
        "type": execution.target_type,
        "created_at": execution.created_at,
        "enqueued_at": execution.enqueued_at,
        "session_id": execution.session_id or None,
        "webhook_registered": bool(execution.webhook_url),
    }
    if webhook_error:
        body["webhook_error"] = webhook_error
    return body


class ExecuteResultSerializer(serializers.Serializer):
    execution_id = serializers.CharField()
    run_id = serializers.CharField()
    status = serializers.CharField()
    result = serializers.JSONField(allow_null=True)
    error_message = serializers.CharField(allow_null=True)
    duration_ms = serializers.IntegerField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)


def result_out(execution: Execution) -> dict:
    return {
        "execution_id": execution.execution_id,
        "run_id": execution.run_id,
        "status": execution.status,
        "result": execution.result,
        "error_message": execution.error_message or None,
        "duration_ms": execution.duration_ms,
        "finished_at": execution.completed_at,
    }


class ExecutionOutSerializer(serializers.Serializer):
    execution_id = serializers.CharField()
    run_id = serializers.CharField()
    workflow_id = serializers.CharField()
    status = serializers.CharField()
    status_reason = serializers.CharField(allow_null=True)
    result = serializers.JSONField(allow_null=True)
    error = serializers.CharField(allow_null=True)
    error_category = serializers.CharField(allow_null=True)
    target = serializers.CharField()
    type = serializers.CharField()
    session_id = serializers.CharField(allow_null=True)
    actor_id = serializers.CharField(allow_null=True)
    parent_execution_id = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)
    duration_ms = serializers.IntegerField(allow_null=True)
    webhook_registered = serializers.BooleanField()
    webhook_status = serializers.CharField(allow_null=True)


def execution_out(execution: Execution) -> dict:
    return {
        "execution_id": execution.execution_id,
        "run_id": execution.run_id,
        "workflow_id": execution.workflow_id,
        "status": execution.status,
        "status_reason": execution.status_reason or None,
        "result": execution.result,
        "error": execution.error_message or None,
        "error_category": execution.error_category or None,
        "target": execution.target_name,
        "type": execution.target_type,
        "session_id": execution.session_id or None,
        "actor_id": execution.actor_id or None,
        "parent_execution_id": execution.parent_execution_id or None,
        "created_at": execution.created_at,
        "started_at": execution.started_at,
        "completed_at": execution.completed_at,
        "duration_ms": execution.duration_ms,
        "webhook_registered": bool(execution.webhook_url),
        "webhook_status": execution.webhook_status or None,
    }


class BatchStatusInSerializer(StrictSerializer):
    execution_ids = serializers.ListField(
        child=serializers.CharField(max_length=64), max_length=1000, allow_empty=False
    )


class StatusCallbackInSerializer(serializers.Serializer):
    """Upstream's SDK also sends ``execution_id``, ``reasoner``, ``completed_at``,
    ``progress``: accepted and ignored, so its agents work unchanged."""

    status = serializers.CharField(max_length=40)
    status_reason = serializers.CharField(required=False, allow_blank=True, max_length=300)
    result = serializers.JSONField(required=False, allow_null=True)
    error = serializers.JSONField(required=False, allow_null=True)
    duration_ms = serializers.IntegerField(required=False, allow_null=True, min_value=0)


def dag_out(workflow_id: str, executions: list[Execution]) -> dict:
    ids = {e.execution_id for e in executions}
    roots = [e for e in executions if not e.parent_execution_id or e.parent_execution_id not in ids]
    return {
        "workflow_id": workflow_id,
        "root_execution_id": roots[0].execution_id if roots else None,
        "nodes": [
            {
                "execution_id": e.execution_id,
                "target": e.target_name,
                "type": e.target_type,
                "status": e.status,
                "parent_execution_id": e.parent_execution_id or None,
                "session_id": e.session_id or None,
                "depth": e.depth,
                "started_at": e.started_at,
                "completed_at": e.completed_at,
                "duration_ms": e.duration_ms,
            }
            for e in executions
        ],
        "edges": [
            {"from": e.parent_execution_id, "to": e.execution_id}
            for e in executions
            if e.parent_execution_id in ids
        ],
    }
