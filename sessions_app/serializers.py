"""Strict input serializers and output shapes of the session routes."""

from __future__ import annotations

import base64
from typing import Any

from rest_framework import serializers

from foundation.serializers import StrictSerializer
from sessions_app.models import SessionInstance, SessionStatus
from sessions_app.services.turns import TurnResult
from sessions_app.transports.audio_files import pcm_to_wav


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


class EventsInSerializer(serializers.Serializer):
    after = serializers.IntegerField(required=False, min_value=0, max_value=2**62, default=0)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=1000, default=500)


def _urls(session: SessionInstance) -> dict[str, str]:
    base = f"/api/v1/session-instances/{session.session_id}"
    urls = {"session_url": base, "events_url": f"{base}/events"}
    if session.transport == "webrtc":
        urls["offer_url"] = f"{base}/realtime-offer"
    if session.transport == "websocket":
        urls["ws_url"] = f"{base}/realtime"
    if session.transport == "audio_turns":
        urls["turns_url"] = f"{base}/turns"
    return urls


def session_started_out(session: SessionInstance, client_secret: str) -> dict[str, Any]:
    """The 201 body: upstream's fields first, then ours (API.md section 6)."""
    urls = _urls(session)
    body: dict[str, Any] = {
        "session_id": session.session_id,
        "target": session.target_name,
        "provider": session.provider,
        "transport": session.transport,
        "model": session.model,
        "voice": session.voice,
        "modalities": session.modalities,
        "tags": session.tags or None,
        "tool_targets": session.tool_targets,
    }
    if "offer_url" in urls:
        body["offer_url"] = urls.pop("offer_url")
    body["tool_url"] = f"/api/v1/session-instances/{session.session_id}/tools/{{tool}}"
    body["created_at"] = session.created_at
    body["turn_detection"] = session.turn_detection
    body["status"] = session.status
    body["expires_at"] = session.expires_at
    body["client_secret"] = {"value": client_secret, "expires_at": session.client_secret_expires_at}
    body.update(urls)
    return body


def session_out(session: SessionInstance) -> dict[str, Any]:
    return {
        "session_id": session.session_id,
        "target": session.target_name,
        "provider": session.provider,
        "transport": session.transport,
        "model": session.model,
        "voice": session.voice,
        "modalities": session.modalities,
        "tags": session.tags,
        "tool_targets": session.tool_targets,
        "handler": session.handler,
        "status": session.status,
        "created_at": session.created_at,
        "connected_at": session.connected_at,
        "ended_at": session.ended_at,
        "end_reason": session.end_reason or None,
        "expires_at": session.expires_at,
        "stats": {
            "turns": session.turns,
            "tool_calls": session.tool_calls,
            "audio_in_ms": session.audio_in_ms,
            "audio_out_ms": session.audio_out_ms,
        },
        **_urls(session),
    }


def turn_out(result: TurnResult) -> dict[str, Any]:
    """The 200 body of a turn; the answer's audio as a WAV file (pcm16, 24 kHz, mono)."""
    audio = None
    if result.pcm:
        audio = {"data": base64.b64encode(pcm_to_wav(result.pcm)).decode("ascii"), "format": "wav"}
    return {
        "turn_id": result.turn_id,
        "input": {"transcript": result.transcript},
        "output": {"text": result.text, "audio": audio},
        "tool_calls": result.tool_calls,
        "latency_ms": result.latency_ms,
    }
