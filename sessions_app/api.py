"""Session API views (API.md section 6). Thin: parse, call a service, render.

Refusals are ``ApiError``s raised below the views, rendered by the one exception handler.
"""

from __future__ import annotations

import time

from adrf.views import APIView as AsyncAPIView
from asgiref.sync import sync_to_async
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework.exceptions import ParseError
from rest_framework.generics import ListAPIView
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from access_app.authentication import ApiKeyAuthentication, LoginSessionAuthentication
from executions_app.serializers.outputs import ExecuteAcceptedOutSerializer
from foundation.errors import ApiError
from foundation.openapi import target_parameter
from foundation.parsers import StrictJSONParser
from foundation.throttling import (
    AudioTurnThrottle,
    SessionStartThrottle,
    ToolCallThrottle,
    WebRTCOfferThrottle,
)
from sessions_app import api_docs as docs
from sessions_app import api_docs_calls as call_docs
from sessions_app import selectors
from sessions_app.authentication import ClientSecretAuthentication
from sessions_app.models import SessionEvent, SessionInstance, SessionStatus
from sessions_app.pagination import EventPagination, SessionPagination
from sessions_app.serializers import (
    EventsInSerializer,
    SessionEndInSerializer,
    SessionEventSerializer,
    SessionListInSerializer,
    SessionPreflightInSerializer,
    SessionPreflightSerializer,
    SessionSerializer,
    SessionStartedSerializer,
    SessionStartInSerializer,
    SessionTargetListSerializer,
    ToolCallInSerializer,
    TurnSerializer,
)
from sessions_app.services.lifecycle import session_finish
from sessions_app.services.preflight import session_start_preflight
from sessions_app.services.starting import session_start
from sessions_app.services.tools import session_tool_call
from sessions_app.services.turn_records import turn_precheck
from sessions_app.services.turns import TurnInput, turn_take
from sessions_app.transports.audio_turns import (
    TurnInSerializer,
    TurnMultipartInSerializer,
    is_multipart,
    turn_body_read,
)
from sessions_app.transports.webrtc import answer_offer


class InstanceRoute:
    """Routes under ``/session-instances/<id>``: the client secret is accepted here only."""

    authentication_classes = [
        ClientSecretAuthentication,
        ApiKeyAuthentication,
        LoginSessionAuthentication,
    ]

    def session_or_404(self, session_id: str) -> SessionInstance:
        return selectors.session_get_or_404(principal=self.request.user, session_id=session_id)


class UpstreamJSONParser(StrictJSONParser):
    """Upstream's tool route answers a body that does not parse with its own 400."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except ParseError:
            raise ApiError(400, "invalid JSON body") from None


class SessionTargetsView(APIView):
    @extend_schema(responses=SessionTargetListSerializer, **docs.TARGETS)
    def get(self, request):
        startable = selectors.session_targets_startable_by(request.user)
        body = {"targets": startable, "total": len(startable)}
        return Response(SessionTargetListSerializer(body).data)


class SessionStartView(APIView):
    throttle_classes = [SessionStartThrottle]

    @extend_schema(
        request=SessionStartInSerializer,
        parameters=[target_parameter("session")],
        responses={201: SessionStartedSerializer, **docs.START_ERRORS},
        **docs.START,
    )
    def post(self, request, target: str):
        serializer = SessionStartInSerializer(data=request.data or {})
        serializer.is_valid(raise_exception=True)
        started = session_start(
            principal=request.user, target=target, body=serializer.validated_data
        )
        return Response(SessionStartedSerializer(started).data, status=201)


class SessionPreflightView(APIView):
    @extend_schema(
        parameters=[target_parameter("session")],
        responses={200: SessionPreflightSerializer, **docs.PREFLIGHT_ERRORS},
        **docs.PREFLIGHT,
    )
    def get(self, request, target: str):
        SessionPreflightInSerializer(data=request.query_params.dict()).is_valid(
            raise_exception=True
        )
        preflight = session_start_preflight(principal=request.user, target=target)
        return Response(SessionPreflightSerializer(preflight).data)


@extend_schema_view(
    get=extend_schema(
        parameters=[SessionListInSerializer], operation_id="v1_session_instances_list", **docs.LIST
    )
)
class SessionListView(ListAPIView):
    queryset = SessionInstance.objects.none()  # the schema's model; rows come from the selector
    serializer_class = SessionSerializer
    pagination_class = SessionPagination

    def get_queryset(self):
        query = SessionListInSerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        self.query = query.validated_data  # the paginator reads the page from it
        return selectors.sessions_listed_for(
            self.request.user,
            target=self.query.get("target") or "",
            status=self.query.get("status") or "",
        )


class SessionDetailView(InstanceRoute, APIView):
    @extend_schema(responses={200: SessionSerializer, **docs.SESSION_NOT_FOUND}, **docs.DETAIL)
    def get(self, request, session_id: str):
        return Response(SessionSerializer(self.session_or_404(session_id)).data)


class SessionEndView(InstanceRoute, APIView):
    @extend_schema(
        request=SessionEndInSerializer,
        responses={200: SessionSerializer, **docs.SESSION_NOT_FOUND},
        **docs.END,
    )
    def post(self, request, session_id: str):
        session = self.session_or_404(session_id)
        serializer = SessionEndInSerializer(data=request.data or {})
        serializer.is_valid(raise_exception=True)
        reason = serializer.validated_data.get("reason") or f"ended by {request.user.actor}"
        session_finish(session, status=SessionStatus.ENDED, reason=reason)
        return Response(SessionSerializer(session).data)


@extend_schema_view(
    get=extend_schema(
        parameters=[EventsInSerializer],
        responses={200: SessionEventSerializer(many=True), **docs.SESSION_NOT_FOUND},
        **docs.EVENTS,
    )
)
class SessionEventsView(InstanceRoute, ListAPIView):
    queryset = SessionEvent.objects.none()  # the schema's model; rows come from the selector
    serializer_class = SessionEventSerializer
    pagination_class = EventPagination

    def get_queryset(self):
        return selectors.session_events(self.session_or_404(self.kwargs["session_id"]))


class SessionToolView(InstanceRoute, APIView):
    """Upstream's tool route, with the allowlist it never enforced."""

    parser_classes = [UpstreamJSONParser]
    throttle_classes = [ToolCallThrottle]

    @extend_schema(
        request=ToolCallInSerializer,
        responses={202: ExecuteAcceptedOutSerializer, **call_docs.TOOL_ERRORS},
        **call_docs.TOOL_CALL,
    )
    def post(self, request, session_id: str, tool: str):
        session = self.session_or_404(session_id)
        call = ToolCallInSerializer(data=request.data if request.body else {})
        call.is_valid(raise_exception=True)
        execution = session_tool_call(session=session, tool=tool, **call.validated_data).execution
        return Response(
            ExecuteAcceptedOutSerializer(execution).data,
            status=202,
            headers={"X-Execution-ID": execution.execution_id, "X-Run-ID": execution.run_id},
        )


def turn_read(request: Request) -> TurnInput:
    """The turn a request carries, by the serializer for its content type."""
    body = turn_body_read(request)
    serializer_class = TurnMultipartInSerializer if is_multipart(request) else TurnInSerializer
    serializer = serializer_class(data=body)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data["turn"]


class SessionTurnView(InstanceRoute, AsyncAPIView):
    """Turn-based audio: the turn runs in the request, waiting on the event loop."""

    parser_classes = [StrictJSONParser, MultiPartParser]
    throttle_classes = [AudioTurnThrottle]

    @extend_schema(
        request={
            "application/json": TurnInSerializer,
            "multipart/form-data": TurnMultipartInSerializer,
        },
        responses={200: TurnSerializer, **call_docs.TURN_ERRORS},
        **call_docs.TURN,
    )
    async def post(self, request, session_id: str):
        began = time.perf_counter()
        session = await sync_to_async(self.session_or_404)(session_id)
        turn_precheck(session)
        turn = await sync_to_async(turn_read)(request)
        result = await turn_take(session=session, turn=turn, began=began)
        return Response(TurnSerializer(result).data)


class SessionRealtimeOfferView(InstanceRoute, AsyncAPIView):
    """Upstream's realtime-offer, answered by this process's own aiortc peer."""

    parser_classes = []  # the body is the raw SDP offer
    throttle_classes = [WebRTCOfferThrottle]

    @extend_schema(
        request={"application/sdp": OpenApiTypes.STR},
        responses={(200, "application/sdp"): OpenApiTypes.STR, **call_docs.OFFER_ERRORS},
        **call_docs.OFFER,
    )
    async def post(self, request, session_id: str):
        session = await sync_to_async(self.session_or_404)(session_id)
        query = request.query_params
        answer = await answer_offer(
            session,
            provider=query.get("provider", ""),
            transport=query.get("transport", ""),
            body=request.body,
        )
        return HttpResponse(answer, content_type="application/sdp")
