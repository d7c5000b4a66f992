"""Input (strict) and output shapes of the execution API (upstream's field names)."""

from __future__ import annotations

from rest_framework import serializers

from executions_app.models import Execution
from foundation.serializers import StrictSerializer

# The largest value an integer column holds on PostgreSQL (the stored duration_ms).
MAX_DB_INTEGER = 2**31 - 1


class WebhookInSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=2000)
    secret = serializers.CharField(required=False, allow_blank=True, max_length=4096)
    headers = serializers.DictField(child=serializers.CharField(), required=False)


class ExecuteInSerializer(StrictSerializer):
    input = serializers.DictField(required=False, allow_null=True)
    context = serializers.DictField(required=False, allow_null=True)
    webhook = WebhookInSerializer(required=False, allow_null=True)


class _ExecutionOut(serializers.Serializer):
    """Renders an Execution; empty strings in ``blank_as_null`` come out as null, as upstream."""

    blank_as_null: tuple[str, ...] = ()

    def to_representation(self, instance):
        data = super().to_representation(instance)
        for field in self.blank_as_null:
            if data.get(field) == "":
                data[field] = None
        return data


class ExecuteAcceptedSerializer(_ExecutionOut):
    blank_as_null = ("session_id",)

    execution_id = serializers.CharField()
    run_id = serializers.CharField()
    workflow_id = serializers.CharField()
    status = serializers.CharField()
    target = serializers.CharField(source="target_name")
    type = serializers.CharField(source="target_type")
    created_at = serializers.DateTimeField()
    enqueued_at = serializers.DateTimeField()
    session_id = serializers.CharField(allow_null=True)
    webhook_registered = serializers.SerializerMethodField()

    def get_webhook_registered(self, execution: Execution) -> bool:
        return bool(execution.webhook_url)


class ExecuteResultSerializer(_ExecutionOut):
    blank_as_null = ("error_message",)

    execution_id = serializers.CharField()
    run_id = serializers.CharField()
    status = serializers.CharField()
    result = serializers.JSONField(allow_null=True)
    error_message = serializers.CharField(allow_null=True)
    duration_ms = serializers.IntegerField(allow_null=True)
    finished_at = serializers.DateTimeField(source="completed_at", allow_null=True)


class ExecutionOutSerializer(ExecuteAcceptedSerializer):
    blank_as_null = (
        "status_reason",
        "error",
        "error_category",
        "session_id",
        "actor_id",
        "claimed_actor_id",
        "parent_execution_id",
        "webhook_status",
    )

    status_reason = serializers.CharField(allow_null=True)
    result = serializers.JSONField(allow_null=True)
    error = serializers.CharField(source="error_message", allow_null=True)
    error_category = serializers.CharField(allow_null=True)
    actor_id = serializers.CharField(allow_null=True)
    claimed_actor_id = serializers.CharField(allow_null=True)
    parent_execution_id = serializers.CharField(allow_null=True)
    started_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)
    duration_ms = serializers.IntegerField(allow_null=True)
    webhook_status = serializers.CharField(allow_null=True)
    enqueued_at = None


class BatchStatusInSerializer(StrictSerializer):
    execution_ids = serializers.ListField(
        child=serializers.CharField(max_length=64), min_length=1, max_length=1000
    )


class StatusCallbackInSerializer(serializers.Serializer):
    """Upstream's SDK also sends ``execution_id``, ``reasoner``, ``completed_at``,
    ``progress``: accepted and ignored, so its agents work unchanged."""

    status = serializers.CharField(max_length=40)
    status_reason = serializers.CharField(required=False, allow_blank=True, max_length=300)
    result = serializers.JSONField(required=False, allow_null=True)
    error = serializers.JSONField(required=False, allow_null=True)
    duration_ms = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=MAX_DB_INTEGER
    )


class ExecutionLogsInSerializer(StrictSerializer):
    """Upstream's ``{"entries": [...]}`` (each a structured log line)."""

    entries = serializers.ListField(child=serializers.DictField(), max_length=200)


class WorkflowEventInSerializer(StrictSerializer):
    """The event upstream's SDK posts when one of its reasoners starts, ends or fails."""

    execution_id = serializers.CharField(max_length=64)
    workflow_id = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    run_id = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    reasoner_id = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    agent_node_id = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    status = serializers.CharField(required=False, allow_blank=True, max_length=40)
    status_reason = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    type = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    parent_execution_id = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    parent_workflow_id = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    input_data = serializers.JSONField(required=False, allow_null=True)
    result = serializers.JSONField(required=False, allow_null=True)
    error = serializers.JSONField(required=False, allow_null=True)
    duration_ms = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=MAX_DB_INTEGER
    )


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
