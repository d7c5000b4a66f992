"""The session routes' input serializers (strict) and output serializers, which render the
bodies and document them alike (the turns route's input serializers are its transport's:
``transports/audio_turns.py``). Session start and the tool route are hot paths: plain
serializers with explicit fields, nothing introspected per request (decision 0025)."""

from __future__ import annotations

import base64
import datetime as dt
import functools
from typing import Any

from django.urls import get_script_prefix, reverse
from django.utils.functional import cached_property
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import SkipField

from foundation.errors import ApiError
from foundation.serializers import StrictSerializer
from sessions_app.models import SessionInstance, SessionStatus, Transport
from sessions_app.services.turns import TurnResult
from sessions_app.transports.audio_files import pcm_to_wav


class SharedFieldsSerializer(serializers.Serializer):
    """A serializer whose fields are bound once per class, on a template instance, instead
    of deep-copied for every instance as DRF does: that copy was most of the cost of a
    session start's body and of the tool route's input. For serializers whose fields keep
    no per-request state: no context, methods that read only their argument, no partial."""

    @cached_property
    def fields(self):
        cls = type(self)
        bound = cls.__dict__.get("_bound_fields")
        if bound is None:
            bound = serializers.Serializer.fields.real_func(cls())
            cls._bound_fields = bound
        return bound


# --- input -------------------------------------------------------------------------------


class SessionStartInSerializer(StrictSerializer):
    provider = serializers.CharField(required=False, allow_blank=True, max_length=50)
    transport = serializers.CharField(required=False, allow_blank=True, max_length=50)
    model = serializers.CharField(required=False, allow_blank=True, max_length=200)
    voice = serializers.CharField(required=False, allow_blank=True, max_length=100)
    metadata = serializers.DictField(required=False)


class SessionEndInSerializer(StrictSerializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=300)


class SessionListInSerializer(serializers.Serializer):
    target = serializers.CharField(required=False, allow_blank=True, max_length=300)
    status = serializers.ChoiceField(choices=SessionStatus.choices, required=False)
    page = serializers.IntegerField(required=False, min_value=1, max_value=100_000, default=1)


class SessionPreflightInSerializer(StrictSerializer):
    """The preflight takes no query parameters: any is an error (400)."""


class EventsInSerializer(serializers.Serializer):
    after = serializers.IntegerField(required=False, min_value=0, max_value=2**62, default=0)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=1000, default=500)


@extend_schema_field(OpenApiTypes.STR)
class _LooseString(serializers.Field):
    """Upstream's ``body.get(name) or ""``: any falsy value is empty, else a string."""

    def to_internal_value(self, data: Any) -> str:
        if not data:
            return ""
        if not isinstance(data, str):
            raise serializers.ValidationError("not a string")
        return data


class ToolCallInSerializer(SharedFieldsSerializer):
    """Upstream's tool body, with upstream's 400s (``ApiError``) instead of field errors."""

    target = _LooseString(required=False, allow_null=True, help_text="`<node>.<reasoner>`")
    input = serializers.DictField(required=False, allow_null=True)

    def run_validation(self, data: Any = serializers.empty) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise ApiError(400, "invalid JSON body")
        return super().run_validation(data)

    def to_internal_value(self, data: dict[str, Any]) -> dict[str, Any]:
        try:
            values = super().to_internal_value(data)
        except serializers.ValidationError:
            raise ApiError(
                400, "invalid JSON body", "target must be a string, input an object"
            ) from None
        return {"target": values.get("target") or "", "input": values.get("input") or {}}


# --- output ------------------------------------------------------------------------------


def _datetime(**kwargs: Any) -> serializers.DateTimeField:
    """Rendered in UTC, as stored (the old bodies never converted), without looking up
    the current time zone per field."""
    return serializers.DateTimeField(default_timezone=dt.UTC, **kwargs)


def _strings() -> serializers.ListField:
    return serializers.ListField(child=serializers.CharField())


class _FromDefinition:
    """A value of the target's registered definition (``definition[key]``)."""

    def __init__(self, *, missing: Any = None, **kwargs: Any) -> None:
        self.missing = missing
        super().__init__(**kwargs)

    def get_attribute(self, target) -> Any:
        return (target.definition or {}).get(self.field_name, self.missing)


class _DefinitionText(_FromDefinition, serializers.CharField):
    pass


class _DefinitionList(_FromDefinition, serializers.ListField):
    pass


class SessionTargetSerializer(SharedFieldsSerializer):
    target = serializers.CharField(source="full_name")
    node_id = serializers.CharField(source="node.node_id")
    name = serializers.CharField()
    provider = _DefinitionText(allow_null=True)
    transport = _DefinitionText(allow_null=True)
    model = _DefinitionText(allow_null=True)
    voice = _DefinitionText(allow_null=True)
    modalities = _DefinitionList(child=serializers.CharField(), missing=[])
    tools = _DefinitionList(child=serializers.CharField(), missing=[])
    handler = serializers.SerializerMethodField()
    tags = serializers.SerializerMethodField()

    def get_handler(self, target) -> bool:
        return bool((target.definition or {}).get("handler"))

    def get_tags(self, target) -> list[str]:
        return sorted(target.approved_tags)


class SessionTargetListSerializer(SharedFieldsSerializer):
    """Rendered from ``{"targets": [...], "total": n}``."""

    targets = SessionTargetSerializer(many=True)
    total = serializers.IntegerField()


class SessionPreflightSerializer(serializers.Serializer):
    """Rendered from a ``services.preflight.Preflight``."""

    target = serializers.CharField(help_text="`<node_id>.<session>`")
    startable = serializers.BooleanField(help_text="a start now would be accepted")
    reason = serializers.CharField(
        allow_null=True,
        help_text="why not: tags_pending, definition_pending, tags_rejected, access_denied, "
        "session_unavailable, provider_not_configured, node_offline, handler_not_connected, "
        "too_many_live_sessions; null when startable",
    )
    message = serializers.CharField(allow_null=True, help_text="what the check said")
    hint = serializers.CharField(allow_null=True, help_text="what to do, and whom to ask")
    ask = serializers.CharField(
        allow_null=True, help_text="who can change it: admin, operator, node_operator, caller"
    )
    error = serializers.CharField(
        allow_null=True, help_text="the error code the start route would answer"
    )
    pending_tags = serializers.ListField(child=serializers.CharField())
    approvals_url = serializers.CharField(
        allow_null=True, help_text="the page where an admin decides, when an admin must"
    )

    def to_representation(self, instance) -> dict[str, Any]:
        body = super().to_representation(instance)
        for name in ("reason", "message", "hint", "ask", "error", "approvals_url"):
            body[name] = body[name] or None
        return body


_SESSION_ID = "session_id_here"  # survives reverse()'s quoting unchanged, as session ids do
_TOOL = "tool_here"


@functools.cache
def _route(route: str, script_prefix: str) -> str:
    """``reverse()`` of a session route, once per route (and script prefix)."""
    kwargs = {"session_id": _SESSION_ID}
    if route == "session-tool":
        kwargs["tool"] = _TOOL
    return reverse(route, kwargs=kwargs)


def session_url(session: SessionInstance, route: str = "session-detail") -> str:
    return _route(route, get_script_prefix()).replace(_SESSION_ID, session.session_id)


@extend_schema_field(OpenApiTypes.STR)
class _SessionUrl(serializers.Field):
    """The URL of one of the session's routes; left out where its transport has none.
    The WebSocket route is Channels' (``routing.py``), which has no ``reverse()``: it sits
    under the session's own URL."""

    def __init__(self, route: str, *, transport: str | None = None, suffix: str = "", **kwargs):
        self.route, self.transport, self.suffix = route, transport, suffix
        kwargs.setdefault("source", "*")
        super().__init__(required=transport is None, **kwargs)

    def get_attribute(self, instance: Any) -> str:
        session = super().get_attribute(instance)  # the session, or the source naming it
        if self.transport is not None and session.transport != self.transport:
            raise SkipField
        return session_url(session, self.route) + self.suffix

    def to_representation(self, value: str) -> str:
        return value


def _offer_url(**kwargs: Any) -> _SessionUrl:
    return _SessionUrl(
        "session-realtime-offer",
        transport=Transport.WEBRTC,
        help_text="transport webrtc only",
        **kwargs,
    )


def _ws_url(**kwargs: Any) -> _SessionUrl:
    return _SessionUrl(
        "session-detail",
        transport=Transport.WEBSOCKET,
        suffix="/realtime",
        help_text="transport websocket only",
        **kwargs,
    )


def _turns_url(**kwargs: Any) -> _SessionUrl:
    return _SessionUrl(
        "session-turns",
        transport=Transport.AUDIO_TURNS,
        help_text="transport audio_turns only",
        **kwargs,
    )


class _SessionConfig(SharedFieldsSerializer):
    session_id = serializers.CharField()
    target = serializers.CharField(source="target_name")
    provider = serializers.CharField()
    transport = serializers.CharField()
    media = serializers.CharField(allow_blank=True, help_text="webrtc: relay or direct; else empty")
    model = serializers.CharField()
    voice = serializers.CharField()
    modalities = _strings()


class _ClientSecret(SharedFieldsSerializer):
    value = serializers.CharField(source="client_secret")
    expires_at = _datetime(source="session.client_secret_expires_at")


class SessionStartedSerializer(SharedFieldsSerializer):
    """The 201 body of a start, from ``Started``: upstream's fields first, then ours
    (API.md section 6)."""

    session_id = serializers.CharField(source="session.session_id")
    target = serializers.CharField(source="session.target_name")
    provider = serializers.CharField(source="session.provider")
    transport = serializers.CharField(source="session.transport")
    model = serializers.CharField(source="session.model")
    voice = serializers.CharField(source="session.voice")
    modalities = serializers.ListField(child=serializers.CharField(), source="session.modalities")
    tags = serializers.SerializerMethodField()
    tool_targets = serializers.DictField(
        child=serializers.CharField(), source="session.tool_targets"
    )
    offer_url = _offer_url(source="session")
    tool_url = serializers.SerializerMethodField()
    created_at = _datetime(source="session.created_at")
    turn_detection = serializers.JSONField(source="session.turn_detection", allow_null=True)
    media = serializers.CharField(
        source="session.media", allow_blank=True, help_text="webrtc: relay or direct; else empty"
    )
    status = serializers.CharField(source="session.status")
    expires_at = _datetime(source="session.expires_at")
    client_secret = _ClientSecret(source="*")
    session_url = _SessionUrl("session-detail", source="session")
    events_url = _SessionUrl("session-events", source="session")
    stream_url = _SessionUrl("session-events-stream", source="session")
    ws_url = _ws_url(source="session")
    turns_url = _turns_url(source="session")

    def get_tags(self, started) -> list[str] | None:
        return started.session.tags or None

    def get_tool_url(self, started) -> str:
        """A template for the client: ``{tool}`` stands for the tool's name."""
        return session_url(started.session, "session-tool").replace(_TOOL, "{tool}")


class _SessionStats(SharedFieldsSerializer):
    turns = serializers.IntegerField()
    tool_calls = serializers.IntegerField()
    audio_in_ms = serializers.IntegerField()
    audio_out_ms = serializers.IntegerField()


class SessionSerializer(_SessionConfig):
    tags = _strings()
    tool_targets = serializers.DictField(child=serializers.CharField())
    handler = serializers.BooleanField()
    status = serializers.CharField()
    created_at = _datetime()
    connected_at = _datetime(allow_null=True)
    ended_at = _datetime(allow_null=True)
    end_reason = serializers.SerializerMethodField()
    expires_at = _datetime()
    stats = _SessionStats(source="*")
    session_url = _SessionUrl("session-detail")
    events_url = _SessionUrl("session-events")
    stream_url = _SessionUrl("session-events-stream")
    offer_url = _offer_url()
    ws_url = _ws_url()
    turns_url = _turns_url()

    def get_end_reason(self, session: SessionInstance) -> str | None:
        return session.end_reason or None


class SessionEventSerializer(SharedFieldsSerializer):
    seq = serializers.IntegerField(source="pk")
    type = serializers.CharField()
    at = _datetime()
    data = serializers.DictField()


class _TurnAudioOut(SharedFieldsSerializer):
    data = serializers.CharField(help_text="base64 WAV, pcm16 24 kHz mono")
    format = serializers.CharField()


class _TurnHeard(SharedFieldsSerializer):
    transcript = serializers.CharField(allow_blank=True)


class _TurnAnswer(SharedFieldsSerializer):
    text = serializers.CharField(allow_blank=True)
    audio = serializers.SerializerMethodField()

    @extend_schema_field(_TurnAudioOut(allow_null=True))
    def get_audio(self, result: TurnResult) -> dict[str, str] | None:
        """The answer's audio as a WAV file (pcm16, 24 kHz, mono)."""
        if not result.pcm:
            return None
        return {"data": base64.b64encode(pcm_to_wav(result.pcm)).decode("ascii"), "format": "wav"}


class _TurnToolCall(SharedFieldsSerializer):
    tool = serializers.CharField()
    target = serializers.CharField()
    execution_id = serializers.CharField(allow_null=True)
    status = serializers.CharField()


class TurnSerializer(SharedFieldsSerializer):
    """The 200 body of a turn, from ``TurnResult``."""

    turn_id = serializers.CharField()
    input = _TurnHeard(source="*")
    output = _TurnAnswer(source="*")
    tool_calls = _TurnToolCall(many=True)
    latency_ms = serializers.FloatField()
