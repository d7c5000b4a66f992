"""Execution API views (upstream's routes and bodies). Thin: parse, call a service, render.

Refusals are ``ApiError`` raised below the views and rendered by the one exception handler.
"""

from __future__ import annotations

from adrf.views import APIView as AsyncAPIView
from asgiref.sync import sync_to_async
from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.exceptions import ParseError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from executions_app import api_docs as docs
from executions_app import api_docs_workflows as workflow_docs
from executions_app import selectors
from executions_app.models import Execution
from executions_app.serializers.inputs import (
    BatchStatusInSerializer,
    ExecuteInSerializer,
    ExecutionLogsInSerializer,
    StatusCallbackInSerializer,
    WorkflowEventInSerializer,
    lineage_header_parameters,
)
from executions_app.serializers.outputs import (
    BatchStatusOutSerializer,
    DagOutSerializer,
    EventAcceptedOutSerializer,
    ExecuteAcceptedOutSerializer,
    ExecuteResultOutSerializer,
    ExecuteTimeoutOutSerializer,
    ExecutionOutSerializer,
    LogsAcceptedOutSerializer,
    ProvenanceKeyOutSerializer,
    ProvenanceOutSerializer,
)
from executions_app.services.creation import Accepted, execution_create
from executions_app.services.node_reports import execution_logs_record, workflow_event_record
from executions_app.services.status import (
    execution_fail_unreadable_callback,
    execution_get_awaiting_callback,
    execution_report_status,
)
from executions_app.waiting import execution_headers, execution_result_within
from foundation.openapi import target_parameter

# Refusals an execute call can meet beyond the common ones: a bad target or header (400),
# access (403), an unknown target (404), an ended session (410), a target pending approval
# (503).
EXECUTE_ERRORS = docs.EXECUTE_ERRORS
EXECUTE_PARAMETERS = [target_parameter("name"), *lineage_header_parameters()]


def _accept(request: Request, target: str) -> Accepted:
    """Shared by the async and sync routes: validate the body and headers, then create."""
    serializer = ExecuteInSerializer(
        data=request.data if request.data is not None else {},
        context={"headers": request.headers},
    )
    serializer.is_valid(raise_exception=True)
    return execution_create(principal=request.user, request=serializer.execution_request(target))


class ExecuteAsyncView(APIView):
    @extend_schema(
        request=ExecuteInSerializer,
        parameters=EXECUTE_PARAMETERS,
        responses={202: ExecuteAcceptedOutSerializer, **EXECUTE_ERRORS},
        **docs.EXECUTE_ASYNC,
    )
    def post(self, request, target: str):
        accepted = _accept(request, target)
        body = ExecuteAcceptedOutSerializer(
            accepted.execution, context={"webhook_error": accepted.webhook_error}
        ).data
        return Response(body, status=202, headers=execution_headers(accepted.execution))


class ExecuteSyncView(AsyncAPIView):
    """Waits on the event loop, not in a thread, so many callers can wait at once."""

    @extend_schema(
        request=ExecuteInSerializer,
        parameters=EXECUTE_PARAMETERS,
        responses={
            200: ExecuteResultOutSerializer,
            **EXECUTE_ERRORS,
            504: OpenApiResponse(
                ExecuteTimeoutOutSerializer,
                description="Still running after the wait: poll the execution.",
                examples=[docs.SYNC_TIMEOUT_EXAMPLE],
            ),
        },
        **docs.EXECUTE_SYNC,
    )
    async def post(self, request, target: str):
        accepted = await sync_to_async(_accept)(request, target)
        timeout = settings.AGENTFIELD_SYNC_TIMEOUT
        execution = await execution_result_within(accepted.execution, timeout)
        return Response(
            ExecuteResultOutSerializer(execution).data,
            headers=execution_headers(accepted.execution),
        )


class ExecutionDetailView(APIView):
    @extend_schema(
        responses={200: ExecutionOutSerializer, **docs.EXECUTION_NOT_FOUND}, **docs.DETAIL
    )
    def get(self, request, execution_id: str):
        execution = selectors.execution_get_for(principal=request.user, execution_id=execution_id)
        return Response(ExecutionOutSerializer(execution).data)


class BatchStatusView(APIView):
    @extend_schema(
        request=BatchStatusInSerializer, responses=BatchStatusOutSerializer, **docs.BATCH
    )
    def post(self, request):
        serializer = BatchStatusInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        statuses = selectors.executions_status_for(
            principal=request.user, execution_ids=serializer.validated_data["execution_ids"]
        )
        return Response(BatchStatusOutSerializer(statuses).data)


def _callback_data(request: Request, execution: Execution):
    """The callback's body. One that cannot be read fails the awaited execution with the
    reason, and the agent gets the parse error."""
    try:
        return request.data
    except ParseError as exc:
        reason = f"the agent's status callback could not be read: {exc.detail}"
        execution_fail_unreadable_callback(execution=execution, reason=reason)
        raise


class ExecutionStatusCallbackView(APIView):
    @extend_schema(
        request=StatusCallbackInSerializer,
        responses={
            200: ExecutionOutSerializer,
            **docs.STATUS_ERRORS,
            **docs.EXECUTION_NOT_FOUND,
        },
        **docs.STATUS_CALLBACK,
    )
    def post(self, request, execution_id: str):
        execution = execution_get_awaiting_callback(
            principal=request.user, execution_id=execution_id
        )
        serializer = StatusCallbackInSerializer(data=_callback_data(request, execution))
        serializer.is_valid(raise_exception=True)
        execution = execution_report_status(execution=execution, **serializer.validated_data)
        return Response(ExecutionOutSerializer(execution).data)


class ExecutionLogsView(APIView):
    """Upstream's structured log lines from the executing node."""

    @extend_schema(
        request=ExecutionLogsInSerializer,
        responses={202: LogsAcceptedOutSerializer, **docs.EXECUTION_NOT_FOUND},
        **docs.LOGS,
    )
    def post(self, request, execution_id: str):
        execution = selectors.execution_executed_by(
            principal=request.user, execution_id=execution_id
        )
        serializer = ExecutionLogsInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        entries = serializer.validated_data["entries"]
        taken = execution_logs_record(execution=execution, entries=entries)
        return Response(LogsAcceptedOutSerializer(taken).data, status=202)


class WorkflowEventsView(APIView):
    """Upstream's workflow events (a reasoner started, completed or failed on the node)."""

    @extend_schema(
        request=WorkflowEventInSerializer,
        responses={202: EventAcceptedOutSerializer, **workflow_docs.WORKFLOW_EVENT_ERRORS},
        **workflow_docs.WORKFLOW_EVENT,
    )
    def post(self, request):
        serializer = WorkflowEventInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        event = serializer.validated_data
        execution = selectors.execution_executed_by(
            principal=request.user, execution_id=event["execution_id"]
        )
        workflow_event_record(execution=execution, event=event)
        return Response(EventAcceptedOutSerializer(True).data, status=202)


class WorkflowDagView(APIView):
    @extend_schema(
        responses={200: DagOutSerializer, **workflow_docs.DAG_ERRORS}, **workflow_docs.DAG
    )
    def get(self, request, workflow_id: str):
        dag = selectors.workflow_dag_for(principal=request.user, workflow_id=workflow_id)
        return Response(DagOutSerializer(dag).data)


class ProvenanceView(APIView):
    @extend_schema(
        responses={200: ProvenanceOutSerializer, **docs.EXECUTION_NOT_FOUND},
        **workflow_docs.PROVENANCE,
    )
    def get(self, request, execution_id: str):
        execution = selectors.execution_get_for(principal=request.user, execution_id=execution_id)
        return Response(ProvenanceOutSerializer(execution).data)


class ProvenanceKeyView(APIView):
    @extend_schema(responses=ProvenanceKeyOutSerializer, **workflow_docs.PUBLIC_KEY)
    def get(self, request):
        return Response(ProvenanceKeyOutSerializer({}).data)
