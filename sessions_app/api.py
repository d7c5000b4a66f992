"""Session API views (API.md section 6). Thin: parse, call a service, render."""

from __future__ import annotations

import time

from adrf.views import APIView as AsyncAPIView
from asgiref.sync import sync_to_async
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import ParseError
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from access_app.authentication import ApiKeyAuthentication, LoginSessionAuthentication
from executions_app.serializers.outputs import ExecuteAcceptedOutSerializer
from foundation.openapi import errors, target_parameter
from foundation.parsers import StrictJSONParser
from foundation.throttling import (
    AudioTurnThrottle,
    SessionStartThrottle,
    ToolCallThrottle,
    WebRTCOfferThrottle,
)
from sessions_app import selectors
from sessions_app.api_shapes import (
    SessionEventsOutSerializer,
    SessionListOutSerializer,
    SessionOutSerializer,
    SessionStartedOutSerializer,
    SessionTargetListOutSerializer,
    ToolCallInSerializer,
    TurnInSerializer,
    TurnMultipartInSerializer,
    TurnOutSerializer,
)
from sessions_app.authentication import ClientSecretAuthentication
from sessions_app.models import SessionStatus
from sessions_app.serializers import (
    EventsInSerializer,
    SessionEndInSerializer,
    SessionListInSerializer,
    SessionStartInSerializer,
    session_out,
    session_started_out,
    turn_out,
)
from sessions_app.services.events import event_out
from sessions_app.services.lifecycle import SessionStateError, session_finish
from sessions_app.services.starting import session_start
from sessions_app.services.tools import session_tool_call
from sessions_app.services.turn_records import turn_precheck
from sessions_app.services.turns import turn_take
from sessions_app.transports.audio_turns import TurnInputError, read_turn_input
from sessions_app.transports.webrtc import answer_offer
from sessions_app.transports.webrtc_offer import OfferRefused

SESSION_NOT_FOUND = {"error": "session not found"}
PAGE_SIZE = 50


class InstanceView(APIView):
    """Routes under ``/session-instances/<id>``: the client secret is accepted here only."""

    authentication_classes = [
        ClientSecretAuthentication,
        ApiKeyAuthentication,
        LoginSessionAuthentication,
    ]

    def session_or_404(self, session_id: str):
        return selectors.session_get_for(principal=self.request.user, session_id=session_id)


def _refused(exc: SessionStateError) -> Response:
    return Response(exc.body, status=exc.status, headers=getattr(exc, "headers", None))


def _target_out(target) -> dict:
    definition = target.definition or {}
    return {
        "target": target.full_name,
        "node_id": target.node.node_id,
        "name": target.name,
        "provider": definition.get("provider"),
        "transport": definition.get("transport"),
        "model": definition.get("model"),
        "voice": definition.get("voice"),
        "modalities": definition.get("modalities", []),
        "tools": definition.get("tools", []),
        "handler": bool(definition.get("handler")),
        "tags": sorted(target.approved_tags),
    }


class SessionTargetsView(APIView):
    @extend_schema(responses=SessionTargetListOutSerializer)
    def get(self, request):
        startable = selectors.session_targets_startable_by(request.user)
        return Response({"targets": [_target_out(t) for t in startable], "total": len(startable)})


class SessionStartView(APIView):
    throttle_classes = [SessionStartThrottle]

    @extend_schema(
        request=SessionStartInSerializer,
        parameters=[target_parameter("session")],
        responses={201: SessionStartedOutSerializer, **errors(403)},
    )
    def post(self, request, target: str):
        serializer = SessionStartInSerializer(data=request.data or {})
        serializer.is_valid(raise_exception=True)
        try:
            started = session_start(
                principal=request.user, target=target, body=serializer.validated_data
            )
        except SessionStateError as exc:
            return _refused(exc)
        return Response(session_started_out(started.session, started.client_secret), status=201)


class SessionListView(APIView):
    @extend_schema(
        parameters=[SessionListInSerializer],
        responses=SessionListOutSerializer,
        operation_id="v1_session_instances_list",
    )
    def get(self, request):
        query = SessionListInSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        sessions = selectors.sessions_visible_to(request.user).order_by("-created_at", "-id")
        if query.validated_data.get("target"):
            sessions = sessions.filter(target_name=query.validated_data["target"])
        if query.validated_data.get("status"):
            sessions = sessions.filter(status=query.validated_data["status"])
        page = query.validated_data["page"]
        total = sessions.count()
        rows = sessions[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        return Response(
            {
                "sessions": [session_out(s) for s in rows],
                "total": total,
                "page": page,
                "has_next": page * PAGE_SIZE < total,
            }
        )


class SessionDetailView(InstanceView):
    @extend_schema(responses=SessionOutSerializer)
    def get(self, request, session_id: str):
        session = self.session_or_404(session_id)
        if session is None:
            return Response(SESSION_NOT_FOUND, status=404)
        return Response(session_out(session))


class SessionEndView(InstanceView):
    @extend_schema(request=SessionEndInSerializer, responses=SessionOutSerializer)
    def post(self, request, session_id: str):
        session = self.session_or_404(session_id)
        if session is None:
            return Response(SESSION_NOT_FOUND, status=404)
        serializer = SessionEndInSerializer(data=request.data or {})
        serializer.is_valid(raise_exception=True)
        reason = serializer.validated_data.get("reason") or f"ended by {request.user.actor}"
        session_finish(session, status=SessionStatus.ENDED, reason=reason)
        return Response(session_out(session))


class SessionEventsView(InstanceView):
    @extend_schema(parameters=[EventsInSerializer], responses=SessionEventsOutSerializer)
    def get(self, request, session_id: str):
        session = self.session_or_404(session_id)
        if session is None:
            return Response(SESSION_NOT_FOUND, status=404)
        query = EventsInSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        after = query.validated_data["after"]
        events = selectors.session_events_after(session, after, query.validated_data["limit"])
        next_after = events[-1].pk if events else after
        return Response({"events": [event_out(e) for e in events], "next_after": next_after})


class SessionToolView(InstanceView):
    """Upstream's tool route, with the allowlist it never enforced."""

    throttle_classes = [ToolCallThrottle]

    @extend_schema(
        request=ToolCallInSerializer,
        responses={202: ExecuteAcceptedOutSerializer, **errors(403, 410)},
    )
    def post(self, request, session_id: str, tool: str):
        session = self.session_or_404(session_id)
        if session is None:
            return Response(SESSION_NOT_FOUND, status=404)
        try:
            body = request.data if request.body else {}
        except ParseError:
            return Response({"error": "invalid JSON body"}, status=400)
        if not isinstance(body, dict):
            return Response({"error": "invalid JSON body"}, status=400)
        target, tool_input = body.get("target") or "", body.get("input")
        if not isinstance(target, str) or not isinstance(tool_input, dict | None):
            return Response(
                {
                    "error": "invalid JSON body",
                    "message": "target must be a string, input an object",
                },
                status=400,
            )
        try:
            accepted = session_tool_call(
                session=session, tool=tool, target=target, input=tool_input or {}
            )
        except SessionStateError as exc:
            return _refused(exc)
        execution = accepted.execution
        return Response(
            ExecuteAcceptedOutSerializer(execution).data,
            status=202,
            headers={"X-Execution-ID": execution.execution_id, "X-Run-ID": execution.run_id},
        )


class SessionTurnView(AsyncAPIView):
    """Turn-based audio: the turn runs in the request, waiting on the event loop."""

    authentication_classes = InstanceView.authentication_classes
    parser_classes = [StrictJSONParser, MultiPartParser]
    throttle_classes = [AudioTurnThrottle]

    @extend_schema(
        request={
            "application/json": TurnInSerializer,
            "multipart/form-data": TurnMultipartInSerializer,
        },
        responses={200: TurnOutSerializer, **errors(409, 410, 413, 415, 502, 503, 504)},
    )
    async def post(self, request, session_id: str):
        began = time.perf_counter()
        session = await sync_to_async(selectors.session_get_for)(
            principal=request.user, session_id=session_id
        )
        if session is None:
            return Response(SESSION_NOT_FOUND, status=404)
        try:
            turn_precheck(session)
            turn = await sync_to_async(read_turn_input)(request)
            result = await turn_take(session=session, turn=turn, began=began)
        except (SessionStateError, TurnInputError) as exc:
            return Response(exc.body, status=exc.status)
        return Response(turn_out(result))


class SessionRealtimeOfferView(AsyncAPIView):
    """Upstream's realtime-offer, answered by this process's own aiortc peer."""

    authentication_classes = InstanceView.authentication_classes
    parser_classes = []  # the body is the raw SDP offer
    throttle_classes = [WebRTCOfferThrottle]

    @extend_schema(
        request={"application/sdp": OpenApiTypes.STR},
        responses={(200, "application/sdp"): OpenApiTypes.STR, **errors(409, 410, 502)},
    )
    async def post(self, request, session_id: str):
        session = await sync_to_async(selectors.session_get_for)(
            principal=request.user, session_id=session_id
        )
        if session is None:
            return Response(SESSION_NOT_FOUND, status=404)
        query = request.query_params
        try:
            answer = await answer_offer(
                session,
                provider=query.get("provider", ""),
                transport=query.get("transport", ""),
                body=request.body,
            )
        except OfferRefused as exc:
            return Response(exc.body, status=exc.status)
        return HttpResponse(answer, content_type="application/sdp")
