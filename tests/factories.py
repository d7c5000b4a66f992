"""Builders for request bodies the SDKs send."""

from __future__ import annotations

from typing import Any


def session_def(name: str = "voice", **overrides: Any) -> dict[str, Any]:
    body = {
        "name": name,
        "provider": "openai",
        "transport": "webrtc",
        "model": "gpt-realtime-2",
        "modalities": ["audio", "text"],
        "voice": "marin",
        "tools": ["support.resolve_voice_turn"],
        "tags": ["support:voice", "pii:limited"],
    }
    body.update(overrides)
    return body


def node_body(
    node_id: str = "voice-support-af",
    *,
    reasoners: list[dict[str, Any]] | None = None,
    skills: list[dict[str, Any]] | None = None,
    sessions: list[dict[str, Any]] | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": node_id,
        "base_url": "http://127.0.0.1:8101",
        "version": "1.0.0",
        "instance_id": "inst-1",
        "proposed_tags": [],
        "reasoners": [{"id": "resolve_voice_turn", "tags": ["support"]}]
        if reasoners is None
        else reasoners,
        "skills": skills or [],
        "sessions": [session_def()] if sessions is None else sessions,
    }
    body.update(overrides)
    return body
