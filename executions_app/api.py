"""Execution API views (upstream's routes and bodies). Thin: parse, call a service, render."""

from __future__ import annotations

import re

from adrf.views import APIView as AsyncAPIView
from asgiref.sync import sync_to_async
from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ParseError
from rest_framework.response import Response
from rest_framework.views import APIView

from access_app.principals import Principal
from executions_app import provenance, selectors
from executions_app.api_shapes import (
    BATCH_STATUS_OUT,
    DagOutSerializer,
    ExecuteAcceptedOutSerializer,
    ExecuteTimeoutOutSerializer,
    ProvenanceOutSerializer,
    lineage_header_parameters,
)
from executions_app.models import TERMINAL_STATUSES
from executions_app.serializers import (
    BatchStatusInSerializer,
    ExecuteAcceptedSerializer,
    ExecuteInSerializer,
    ExecuteResultSerializer,
    ExecutionLogsInSerializer,
    ExecutionOutSerializer,
    StatusCallbackInSerializer,
    WorkflowEventInSerializer,
    dag_out,
)
from executions_app.services.creation import (
    Accepted,
    ExecutionRefused,
    ExecutionRequest,
    execution_create,
)
from executions_app.services.node_reports import execution_logs_record, workflow_event_record
from executions_app.services.status import (
    StatusRejected,
    execution_fail_unreadable_callback,
    execution_report_status,
    not_waiting,
    waits_for_callback,
)
from executions_app.waiting import wait_for_execution_end
from foundation.openapi import errors, target_parameter

EXECUTION_NOT_FOUND = {"error": "execution not found"}
NOT_THE_EXECUTOR = {
    "error": "forbidden",
    "message": "only the executing agent node may report status",
}
# Refusals an execute call can meet beyond the common ones: access (403), an ended session
# (410), a target pending approval (503).
EXECUTE_ERRORS = errors(403, 410)


# Request headers honoured (API.md section 4) and the longest value each may carry.
LINEAGE_HEADERS = {
    "X-Session-ID": 100,
    "X-Run-ID": 64,
    "X-Parent-Execution-ID": 64,
    "X-Actor-ID": 200,
}


# The ids go on in the agent call's own headers: visible ASCII only, so a byte httpx cannot
# encode (or a control character) is the caller's 400, never a dispatch task that dies.
VISIBLE_ASCII = re.compile(r"[\x21-\x7e]*")


def _lineage_headers(request) -> dict[str, str] | Response:
    values = {name: request.headers.get(name, "").strip() for name in LINEAGE_HEADERS}
    for name, longest in LINEAGE_HEADERS.items():
        if len(values[name]) > longest or "\x00" in values[name]:
            return Response(
                {"error": f"{name} must be at most {longest} characters, without NUL"}, status=400
            )
        if not VISIBLE_ASCII.fullmatch(values[name]):
            return Response(
                {"error": f"{name} may hold only visible ASCII characters (no spaces)"},
                status=400,
            )
    return values


def _accept(request, target: str) -> Accepted | Response:
    """Shared by the async and sync routes: validate, then create (or refuse)."""
    serializer = ExecuteInSerializer(data=request.data if request.data is not None else {})
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    headers = _lineage_headers(request)
    if isinstance(headers, Response):
        return headers
    execution_request = ExecutionRequest(
        target=target,
        input=data.get("input") or {},
        context=data.get("context") or {},
        webhook=data.get("webhook"),
        session_id=headers["X-Session-ID"],
        run_id=headers["X-Run-ID"],
        parent_execution_id=headers["X-Parent-Execution-ID"],
        actor_id=headers["X-Actor-ID"],
    )
    try:
        return execution_create(principal=request.user, request=execution_request)
    except ExecutionRefused as exc:
        return Response(exc.body, status=exc.status)


class ExecuteAsyncView(APIView):
    @extend_schema(
        request=ExecuteInSerializer,
        parameters=[target_parameter("name"), *lineage_header_parameters(LINEAGE_HEADERS)],
        responses={202: ExecuteAcceptedOutSerializer, **EXECUTE_ERRORS},
    )
    def post(self, request, target: str):
        accepted = _accept(request, target)
        if isinstance(accepted, Response):
            return accepted
        execution = accepted.execution
        body = ExecuteAcceptedSerializer(execution).data
        if accepted.webhook_error:
            body["webhook_error"] = accepted.webhook_error
        return Response(
            body,
            status=202,
            headers={"X-Execution-ID": execution.execution_id, "X-Run-ID": execution.run_id},
        )


class ExecuteSyncView(AsyncAPIView):
    """Waits on the event loop, not in a thread, so many callers can wait at once."""

    @extend_schema(
        request=ExecuteInSerializer,
        parameters=[target_parameter("name"), *lineage_header_parameters(LINEAGE_HEADERS)],
        responses={
            200: ExecuteResultSerializer,
            **EXECUTE_ERRORS,
            504: OpenApiResponse(ExecuteTimeoutOutSerializer, description="still running; poll"),
        },
    )
    async def post(self, request, target: str):
        accepted = await sync_to_async(_accept)(request, target)
        if isinstance(accepted, Response):
            return accepted
        execution_id = accepted.execution.execution_id
        timeout = settings.AGENTFIELD_SYNC_TIMEOUT
        execution = await wait_for_execution_end(execution_id, timeout)
        headers = {"X-Execution-ID": execution_id, "X-Run-ID": accepted.execution.run_id}
        if execution is None or execution.status not in TERMINAL_STATUSES:
            body = {
                "error": "execution_timeout",
                "message": f"the execution did not finish within {timeout:g} s; "
                f"poll GET /api/v1/executions/{execution_id}",
                "execution_id": execution_id,
                "run_id": accepted.execution.run_id,
                "status": execution.status if execution else "unknown",
            }
            return Response(body, status=504, headers=headers)
        return Response(ExecuteResultSerializer(execution).data, headers=headers)


class ExecutionDetailView(APIView):
    @extend_schema(responses=ExecutionOutSerializer)
    def get(self, request, execution_id: str):
        execution = selectors.execution_get_for(principal=request.user, execution_id=execution_id)
        if execution is None:
            return Response(EXECUTION_NOT_FOUND, status=404)
        return Response(ExecutionOutSerializer(execution).data)


class BatchStatusView(APIView):
    @extend_schema(
        request=BatchStatusInSerializer, responses={200: OpenApiResponse(BATCH_STATUS_OUT)}
    )
    def post(self, request):
        serializer = BatchStatusInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ids = serializer.validated_data["execution_ids"]
        found = selectors.executions_visible_to(request.user).filter(execution_id__in=ids)
        by_id = {e.execution_id: e for e in found}
        body = {
            execution_id: (
                {
                    "status": by_id[execution_id].status,
                    "status_reason": by_id[execution_id].status_reason or None,
                    "completed_at": by_id[execution_id].completed_at,
                    "duration_ms": by_id[execution_id].duration_ms,
                }
                if execution_id in by_id
                else {"status": "not_found"}
            )
            for execution_id in ids
        }
        return Response(body)


class ExecutionStatusCallbackView(APIView):
    @extend_schema(
        request=StatusCallbackInSerializer,
        responses={200: ExecutionOutSerializer, **errors(403, 409)},
    )
    def post(self, request, execution_id: str):
        principal: Principal = request.user
        execution = selectors.execution_get_for(principal=principal, execution_id=execution_id)
        if execution is None:
            return Response(EXECUTION_NOT_FOUND, status=404)
        if not selectors.principal_executes(principal, execution):
            return Response(NOT_THE_EXECUTOR, status=403)
        if not waits_for_callback(execution):  # before the body is read: it changes nothing
            rejected = not_waiting(execution)
            return Response(rejected.body, status=rejected.status)
        try:
            data = request.data
        except ParseError as exc:
            # The awaited answer cannot be read: the execution fails with the reason, and
            # the agent gets the parse error.
            reason = f"the agent's status callback could not be read: {exc.detail}"
            execution_fail_unreadable_callback(execution=execution, reason=reason)
            raise
        serializer = StatusCallbackInSerializer(data=data)
        serializer.is_valid(raise_exception=True)
        try:
            execution = execution_report_status(execution=execution, **serializer.validated_data)
        except StatusRejected as exc:
            return Response(exc.body, status=exc.status)
        return Response(ExecutionOutSerializer(execution).data)


def _executed_by(principal: Principal, execution_id: str):
    """The execution, if ``principal`` is its executing node: else None, which the routes
    below answer 404, as for an execution that does not exist."""
    execution = selectors.execution_get_for(principal=principal, execution_id=execution_id)
    if execution is None or not selectors.principal_executes(principal, execution):
        return None
    return execution


class ExecutionLogsView(APIView):
    """Upstream's structured log lines from the executing node."""

    @extend_schema(
        request=ExecutionLogsInSerializer,
        responses={
            202: inline_serializer("LogsAccepted", fields={"accepted": serializers.IntegerField()})
        },
    )
    def post(self, request, execution_id: str):
        execution = _executed_by(request.user, execution_id)
        if execution is None:
            return Response(EXECUTION_NOT_FOUND, status=404)
        serializer = ExecutionLogsInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        entries = serializer.validated_data["entries"]
        return Response(
            {"accepted": execution_logs_record(execution=execution, entries=entries)}, status=202
        )


class WorkflowEventsView(APIView):
    """Upstream's workflow events (a reasoner started, completed or failed on the node)."""

    @extend_schema(
        request=WorkflowEventInSerializer,
        responses={
            202: inline_serializer(
                "EventAccepted", fields={"accepted": serializers.BooleanField()}
            ),
            **errors(404),
        },
    )
    def post(self, request):
        serializer = WorkflowEventInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        event = serializer.validated_data
        execution = _executed_by(request.user, event["execution_id"])
        if execution is None:
            return Response(EXECUTION_NOT_FOUND, status=404)
        workflow_event_record(execution=execution, event=event)
        return Response({"accepted": True}, status=202)


class WorkflowDagView(APIView):
    @extend_schema(responses=DagOutSerializer)
    def get(self, request, workflow_id: str):
        executions = selectors.workflow_executions_for(
            principal=request.user, workflow_id=workflow_id
        )
        if not executions:
            return Response({"error": "workflow not found"}, status=404)
        return Response(dag_out(workflow_id, executions))


class ProvenanceView(APIView):
    @extend_schema(responses=ProvenanceOutSerializer)
    def get(self, request, execution_id: str):
        execution = selectors.execution_get_for(principal=request.user, execution_id=execution_id)
        if execution is None:
            return Response(EXECUTION_NOT_FOUND, status=404)
        record = provenance.provenance_record(execution)
        record["signature"] = (
            {
                "algorithm": provenance.ALGORITHM,
                "public_key": provenance.public_key_b64(),
                "value": execution.provenance_signature,
            }
            if execution.provenance_signature
            else None
        )
        return Response(record)


class ProvenanceKeyView(APIView):
    @extend_schema(
        responses=inline_serializer(
            "ProvenanceKey",
            fields={"algorithm": serializers.CharField(), "public_key": serializers.CharField()},
        )
    )
    def get(self, request):
        return Response(
            {"algorithm": provenance.ALGORITHM, "public_key": provenance.public_key_b64()}
        )
