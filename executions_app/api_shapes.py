"""Response shapes and request headers of the execution API, for the OpenAPI document.

The views build their bodies; the schema test checks every response against these.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from executions_app.serializers import ExecuteAcceptedSerializer

LINEAGE_HEADER_HELP = {
    "X-Session-ID": "attach the execution to this live session (its starter or its node)",
    "X-Run-ID": "join or start this run: letters, digits, _ - . : (at most 64)",
    "X-Parent-Execution-ID": "a visible execution this one is a child of",
    "X-Actor-ID": "who acts, as recorded in provenance",
}


def lineage_header_parameters(longest: dict[str, int]) -> list[OpenApiParameter]:
    return [
        OpenApiParameter(
            name,
            {"type": "string", "maxLength": longest[name]},
            OpenApiParameter.HEADER,
            description=help_text,
        )
        for name, help_text in LINEAGE_HEADER_HELP.items()
    ]


class ExecuteAcceptedOutSerializer(ExecuteAcceptedSerializer):
    webhook_error = serializers.CharField(
        required=False, help_text="present when the webhook was refused; the call still runs"
    )


class ExecuteTimeoutOutSerializer(serializers.Serializer):
    error = serializers.CharField()
    message = serializers.CharField()
    execution_id = serializers.CharField()
    run_id = serializers.CharField()
    status = serializers.CharField()


BATCH_STATUS_OUT = {
    "type": "object",
    "description": "execution id -> its status, or {status: not_found} (also for others' ids)",
    "additionalProperties": {
        "type": "object",
        "properties": {
            "status": {"type": "string"},
            "status_reason": {"type": "string", "nullable": True},
            "completed_at": {"type": "string", "format": "date-time", "nullable": True},
            "duration_ms": {"type": "integer", "nullable": True},
        },
        "required": ["status"],
    },
}


class DagNodeOutSerializer(serializers.Serializer):
    execution_id = serializers.CharField()
    target = serializers.CharField()
    type = serializers.CharField()
    status = serializers.CharField()
    parent_execution_id = serializers.CharField(allow_null=True)
    session_id = serializers.CharField(allow_null=True)
    depth = serializers.IntegerField()
    started_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)
    duration_ms = serializers.IntegerField(allow_null=True)


class DagEdgeOutSerializer(serializers.Serializer):
    # "from" is a Python keyword, hence the declared name below.
    to = serializers.CharField()

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.CharField()
        return fields


class DagOutSerializer(serializers.Serializer):
    workflow_id = serializers.CharField()
    root_execution_id = serializers.CharField(allow_null=True)
    nodes = DagNodeOutSerializer(many=True)
    edges = DagEdgeOutSerializer(many=True)


class _ProvenanceCaller(serializers.Serializer):
    principal = serializers.CharField()
    actor_id = serializers.CharField(allow_null=True)
    claimed_actor_id = serializers.CharField(
        required=False, help_text="an X-Actor-ID the caller could not delegate (only if any)"
    )
    tags = serializers.ListField(child=serializers.CharField())


class _ProvenanceTarget(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.CharField()
    approved_tags = serializers.ListField(child=serializers.CharField())


class _ProvenanceOrigin(serializers.Serializer):
    session_id = serializers.CharField(allow_null=True)
    parent_execution_id = serializers.CharField(allow_null=True)
    workflow_id = serializers.CharField()
    run_id = serializers.CharField()


class _ProvenanceSignature(serializers.Serializer):
    algorithm = serializers.CharField()
    public_key = serializers.CharField()
    value = serializers.CharField()


class ProvenanceOutSerializer(serializers.Serializer):
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
