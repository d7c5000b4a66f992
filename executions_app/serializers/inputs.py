"""Input serializers of the execution API (strict where upstream's clients allow it)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from executions_app.services.creation import ExecutionRequest
from foundation.errors import ApiError
from foundation.serializers import StrictSerializer

# The largest value an integer column holds on PostgreSQL (the stored duration_ms).
MAX_DB_INTEGER = 2**31 - 1

# Request headers honoured (API.md section 4) and the longest value each may carry.
LINEAGE_HEADERS = {
    "X-Session-ID": 100,
    "X-Run-ID": 64,
    "X-Parent-Execution-ID": 64,
    "X-Actor-ID": 200,
}
LINEAGE_HEADER_HELP = {
    "X-Session-ID": "attach the execution to this live session (its starter or its node)",
    "X-Run-ID": "join or start this run: letters, digits, _ - . : (at most 64)",
    "X-Parent-Execution-ID": "a visible execution this one is a child of",
    "X-Actor-ID": "who acts, as recorded in provenance",
}
# The ids go on in the agent call's own headers: visible ASCII only, so a byte httpx cannot
# encode (or a control character) is the caller's 400, never a dispatch task that dies.
VISIBLE_ASCII = re.compile(r"[\x21-\x7e]*")


class WebhookInSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=2000)
    secret = serializers.CharField(required=False, allow_blank=True, max_length=4096)
    headers = serializers.DictField(child=serializers.CharField(), required=False)


def lineage_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The lineage ids a request carries ("" when absent); 400 for one too long or outside
    visible ASCII (upstream's bodies, so not a field error)."""
    values = {name: headers.get(name, "").strip() for name in LINEAGE_HEADERS}
    for name, longest in LINEAGE_HEADERS.items():
        if len(values[name]) > longest or "\x00" in values[name]:
            raise ApiError(400, f"{name} must be at most {longest} characters, without NUL")
        if not VISIBLE_ASCII.fullmatch(values[name]):
            raise ApiError(400, f"{name} may hold only visible ASCII characters (no spaces)")
    return values


def lineage_header_parameters() -> list[OpenApiParameter]:
    return [
        OpenApiParameter(
            name,
            {"type": "string", "maxLength": LINEAGE_HEADERS[name]},
            OpenApiParameter.HEADER,
            description=help_text,
        )
        for name, help_text in LINEAGE_HEADER_HELP.items()
    ]


class ExecuteInSerializer(StrictSerializer):
    # The execute body; the lineage headers come in ``context["headers"]`` and are checked
    # once the body is valid (a docstring here would be the OpenAPI description).

    input = serializers.DictField(required=False, allow_null=True)
    context = serializers.DictField(required=False, allow_null=True)
    webhook = WebhookInSerializer(required=False, allow_null=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs["lineage"] = lineage_headers(self.context.get("headers", {}))
        return attrs

    def execution_request(self, target: str) -> ExecutionRequest:
        data = self.validated_data
        lineage = data["lineage"]
        return ExecutionRequest(
            target=target,
            input=data.get("input") or {},
            context=data.get("context") or {},
            webhook=data.get("webhook"),
            session_id=lineage["X-Session-ID"],
            run_id=lineage["X-Run-ID"],
            parent_execution_id=lineage["X-Parent-Execution-ID"],
            actor_id=lineage["X-Actor-ID"],
        )


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
