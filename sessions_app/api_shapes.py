"""Response shapes of the session API, for the OpenAPI document.

The views build their bodies (``session_out`` and friends); the schema test checks every
response against these.
"""

from __future__ import annotations

from rest_framework import serializers


def _strings() -> serializers.ListField:
    return serializers.ListField(child=serializers.CharField())


class SessionTargetOutSerializer(serializers.Serializer):
    target = serializers.CharField()
    node_id = serializers.CharField()
    name = serializers.CharField()
    provider = serializers.CharField(allow_null=True)
    transport = serializers.CharField(allow_null=True)
    model = serializers.CharField(allow_null=True)
    voice = serializers.CharField(allow_null=True)
    modalities = _strings()
    tools = _strings()
    handler = serializers.BooleanField()
    tags = _strings()


class SessionTargetListOutSerializer(serializers.Serializer):
    targets = SessionTargetOutSerializer(many=True)
    total = serializers.IntegerField()


class _SessionUrls(serializers.Serializer):
    session_url = serializers.CharField()
    events_url = serializers.CharField()
    offer_url = serializers.CharField(required=False, help_text="transport webrtc only")
    ws_url = serializers.CharField(required=False, help_text="transport websocket only")
    turns_url = serializers.CharField(required=False, help_text="transport audio_turns only")


class _SessionConfig(_SessionUrls):
    session_id = serializers.CharField()
    target = serializers.CharField()
    provider = serializers.CharField()
    transport = serializers.CharField()
    model = serializers.CharField()
    voice = serializers.CharField()
    modalities = _strings()
    tool_targets = serializers.DictField(child=serializers.CharField())
    status = serializers.CharField()
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()


class _ClientSecret(serializers.Serializer):
    value = serializers.CharField()
    expires_at = serializers.DateTimeField()


class SessionStartedOutSerializer(_SessionConfig):
    tags = serializers.ListField(child=serializers.CharField(), allow_null=True)
    tool_url = serializers.CharField()
    turn_detection = serializers.JSONField(allow_null=True)
    client_secret = _ClientSecret()


class _SessionStats(serializers.Serializer):
    turns = serializers.IntegerField()
    tool_calls = serializers.IntegerField()
    audio_in_ms = serializers.IntegerField()
    audio_out_ms = serializers.IntegerField()


class SessionOutSerializer(_SessionConfig):
    tags = _strings()
    handler = serializers.BooleanField()
    connected_at = serializers.DateTimeField(allow_null=True)
    ended_at = serializers.DateTimeField(allow_null=True)
    end_reason = serializers.CharField(allow_null=True)
    stats = _SessionStats()


class SessionListOutSerializer(serializers.Serializer):
    sessions = SessionOutSerializer(many=True)
    total = serializers.IntegerField()
    page = serializers.IntegerField()
    has_next = serializers.BooleanField()


class SessionEventOutSerializer(serializers.Serializer):
    seq = serializers.IntegerField()
    type = serializers.CharField()
    at = serializers.DateTimeField()
    data = serializers.DictField()


class SessionEventsOutSerializer(serializers.Serializer):
    events = SessionEventOutSerializer(many=True)
    next_after = serializers.IntegerField()


class ToolCallInSerializer(serializers.Serializer):
    """Upstream's tool body; checked by hand in the view to keep upstream's errors."""

    target = serializers.RegexField(
        r"^[^.]+\.[^.]+$", required=False, help_text="<node>.<reasoner>"
    )
    input = serializers.DictField(required=False, allow_null=True)


class _TurnAudioIn(serializers.Serializer):
    data = serializers.CharField(help_text="base64 audio")
    format = serializers.ChoiceField(choices=["wav", "mp3"])


class TurnInSerializer(serializers.Serializer):
    """A JSON turn; checked by hand in the service (size and format before the provider)."""

    audio = _TurnAudioIn(required=False)
    text = serializers.CharField(required=False)


class TurnMultipartInSerializer(serializers.Serializer):
    audio = serializers.FileField(required=False, help_text="a WAV or MP3 file")
    text = serializers.CharField(required=False)


class _TurnAudioOut(serializers.Serializer):
    data = serializers.CharField(help_text="base64 WAV, pcm16 24 kHz mono")
    format = serializers.CharField()


class _TurnInput(serializers.Serializer):
    transcript = serializers.CharField(allow_blank=True)


class _TurnOutput(serializers.Serializer):
    text = serializers.CharField(allow_blank=True)
    audio = _TurnAudioOut(allow_null=True)


class _TurnToolCall(serializers.Serializer):
    tool = serializers.CharField()
    target = serializers.CharField()
    execution_id = serializers.CharField(allow_null=True)
    status = serializers.CharField()


class TurnOutSerializer(serializers.Serializer):
    turn_id = serializers.CharField()
    input = _TurnInput()
    output = _TurnOutput()
    tool_calls = _TurnToolCall(many=True)
    latency_ms = serializers.IntegerField()
