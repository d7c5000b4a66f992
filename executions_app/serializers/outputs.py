"""Output serializers of the execution API: each renders its body and documents it.

Upstream's field names. The hot-path ones (accepted, result) are plain serializers with
explicit fields, so rendering one costs no introspection. A class docstring is the
OpenAPI description, so notes for the reader of this code are comments.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerExtension
from rest_framework import serializers

from executions_app import provenance
from executions_app.models import Execution

BATCH_NOT_FOUND = {"status": "not_found"}


class _ExecutionOut(serializers.Serializer):
    """Renders an Execution; empty strings in ``blank_as_null`` come out as null, as upstream."""

    blank_as_null: tuple[str, ...] = ()

    def to_representation(self, instance):
        data = super().to_representation(instance)
        for field in self.blank_as_null:
            if data.get(field) == "":
                data[field] = None
        return data


class ExecuteAcceptedOutSerializer(_ExecutionOut):
    """Accepted: the execution is queued."""

    # Also a session's tool route's 202. ``webhook_error`` comes from ``context``.
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
    webhook_error = serializers.CharField(
        required=False, help_text="present when the webhook was refused; the call still runs"
    )

    def get_webhook_registered(self, execution: Execution) -> bool:
        return bool(execution.webhook_url)

    def to_representation(self, instance):
        data = super().to_representation(instance)  # an Execution has no webhook_error
        webhook_error = self.context.get("webhook_error")
        if webhook_error:
            data["webhook_error"] = webhook_error
        return data


class ExecuteResultOutSerializer(_ExecutionOut):
    """The finished execution."""

    blank_as_null = ("error_message",)

    execution_id = serializers.CharField()
    run_id = serializers.CharField()
    status = serializers.CharField()
    result = serializers.JSONField(allow_null=True)
    error_message = serializers.CharField(allow_null=True)
    duration_ms = serializers.IntegerField(allow_null=True)
    finished_at = serializers.DateTimeField(source="completed_at", allow_null=True)


class ExecuteTimeoutOutSerializer(serializers.Serializer):
    """Still running when the wait ended: poll the execution."""

    # Rendered as an ``ApiError`` body (``executions_app.waiting``); documented here.

    error = serializers.CharField()
    message = serializers.CharField()
    execution_id = serializers.CharField()
    run_id = serializers.CharField()
    status = serializers.CharField()


class ExecutionOutSerializer(ExecuteAcceptedOutSerializer):
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
    webhook_error = None


class BatchStatusEntryOutSerializer(_ExecutionOut):
    """One execution's status."""

    blank_as_null = ("status_reason",)

    status = serializers.CharField()
    status_reason = serializers.CharField(required=False, allow_null=True)
    completed_at = serializers.DateTimeField(required=False, allow_null=True)
    duration_ms = serializers.IntegerField(required=False, allow_null=True)


class BatchStatusOutSerializer(serializers.Serializer):
    """Execution id -> its status, or {status: not_found} (also for others' ids)."""

    # Renders ``{execution_id: Execution | None}`` (``selectors.executions_status_for``).

    def to_representation(self, statuses: dict[str, Execution | None]) -> dict[str, Any]:
        entry = BatchStatusEntryOutSerializer()
        return {
            execution_id: entry.to_representation(execution)
            if execution is not None
            else dict(BATCH_NOT_FOUND)
            for execution_id, execution in statuses.items()
        }


class BatchStatusOutSchema(OpenApiSerializerExtension):
    """A map keyed by execution id, which a serializer's fields cannot name."""

    target_class = BatchStatusOutSerializer

    def map_serializer(self, auto_schema, direction):
        entry = auto_schema.resolve_serializer(BatchStatusEntryOutSerializer, direction)
        return {
            "type": "object",
            "description": BatchStatusOutSerializer.__doc__.split("\n")[0],
            "additionalProperties": entry.ref,
        }


class DagNodeOutSerializer(_ExecutionOut):
    blank_as_null = ("parent_execution_id", "session_id")

    execution_id = serializers.CharField()
    target = serializers.CharField(source="target_name")
    type = serializers.CharField(source="target_type")
    status = serializers.CharField()
    parent_execution_id = serializers.CharField(allow_null=True)
    session_id = serializers.CharField(allow_null=True)
    depth = serializers.IntegerField()
    started_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)
    duration_ms = serializers.IntegerField(allow_null=True)


class DagEdgeOutSerializer(serializers.Serializer):
    """A parent -> child link."""

    # Renders the child execution (``WorkflowDag.linked``).

    to = serializers.CharField(source="execution_id")

    def get_fields(self):
        # "from" is a Python keyword, so it cannot be declared as an attribute; it comes first.
        return {"from": serializers.CharField(source="parent_execution_id"), **super().get_fields()}


class DagOutSerializer(serializers.Serializer):
    """A workflow's executions (nodes) and their parent -> child links (edges)."""

    # Renders an ``executions_app.dag.WorkflowDag``.

    workflow_id = serializers.CharField()
    root_execution_id = serializers.CharField(allow_null=True)
    nodes = DagNodeOutSerializer(many=True, source="executions")
    edges = DagEdgeOutSerializer(many=True, source="linked")


class ProvenanceKeyOutSerializer(serializers.Serializer):
    """The key provenance records are signed with."""

    # Renders anything (``{}``): the key is the process's.

    algorithm = serializers.SerializerMethodField()
    public_key = serializers.SerializerMethodField()

    def get_algorithm(self, _) -> str:
        return provenance.ALGORITHM

    def get_public_key(self, _) -> str:
        return provenance.public_key_b64()


class _ProvenanceSignature(ProvenanceKeyOutSerializer):
    """The record's signature, with the key that checks it."""

    value = serializers.CharField(source="provenance_signature")


class _ProvenanceCaller(serializers.Serializer):
    principal = serializers.CharField()
    actor_id = serializers.CharField(allow_null=True)
    tags = serializers.ListField(child=serializers.CharField())
    claimed_actor_id = serializers.CharField(
        required=False, help_text="an X-Actor-ID the caller could not delegate (only if any)"
    )


class _ProvenanceTarget(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.CharField()
    approved_tags = serializers.ListField(child=serializers.CharField())


class _ProvenanceOrigin(serializers.Serializer):
    session_id = serializers.CharField(allow_null=True)
    parent_execution_id = serializers.CharField(allow_null=True)
    workflow_id = serializers.CharField()
    run_id = serializers.CharField()


class ProvenanceOutSerializer(serializers.Serializer):
    """The provenance record (exactly what the signature covers) and its signature."""

    # Renders an Execution through ``provenance.provenance_record``; the caller's fields
    # are declared in the record's order, so the body is the signed record, byte for byte.

    execution_id = serializers.CharField()
    caller = _ProvenanceCaller()
    target = _ProvenanceTarget()
    origin = _ProvenanceOrigin()
    status = serializers.CharField()
    input_sha256 = serializers.CharField(allow_null=True)
    result_sha256 = serializers.CharField(allow_null=True)
    error_sha256 = serializers.CharField(allow_null=True)
    created_at = serializers.CharField(allow_null=True)
    started_at = serializers.CharField(allow_null=True)
    completed_at = serializers.CharField(allow_null=True)
    signature = _ProvenanceSignature(allow_null=True, help_text="null until the call has ended")

    def to_representation(self, execution: Execution) -> dict[str, Any]:
        signed = execution if execution.provenance_signature else None
        return super().to_representation(
            {**provenance.provenance_record(execution), "signature": signed}
        )


class LogsAcceptedOutSerializer(serializers.Serializer):
    """How many log lines were taken."""

    # Renders that count.

    accepted = serializers.IntegerField(source="*")


class EventAcceptedOutSerializer(serializers.Serializer):
    """The event was taken."""

    # Renders ``True``.

    accepted = serializers.BooleanField(source="*")
