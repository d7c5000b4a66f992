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


def register_approved_node(
    admin_client,
    node_id: str,
    base_url: str,
    names: list[str],
    tags: list[str] | None = None,
    skills: list[str] | None = None,
):
    """Register a node whose reasoners (and skills) are approved with ``tags``."""
    from access_app.models import Target
    from access_app.services.approvals import target_tags_decide

    tags = tags or ["support"]
    body = node_body(
        node_id,
        base_url=base_url,
        reasoners=[{"id": name, "tags": tags} for name in names],
        skills=[{"id": name, "tags": tags} for name in (skills or [])],
        sessions=[],
    )
    response = admin_client.post("/api/v1/nodes/register", body, format="json")
    assert response.status_code == 201, response.content
    for target in Target.objects.filter(node__node_id=node_id):
        target_tags_decide(target=target, decision="approved", actor="test")
    return response.json()


def allow_policy(name: str = "team-a-support", caller_tags=("team:a",), target_tags=("support",)):
    from access_app.models import AccessPolicy

    return AccessPolicy.objects.create(
        name=name, caller_tags=list(caller_tags), target_tags=list(target_tags), action="allow"
    )


def owned_session(caller, session_id: str):
    """A live session row started by ``caller`` (any registered target will do), so
    executions may carry its id."""
    from datetime import timedelta

    from django.utils import timezone

    from access_app.models import Target
    from sessions_app.models import SessionInstance

    later = timezone.now() + timedelta(hours=1)
    return SessionInstance.objects.create(
        session_id=session_id,
        target=Target.objects.first(),
        target_name="test.session",
        node_id="test",
        provider="openai",
        transport="websocket",
        owner=f"key:{caller.key.pk}",
        client_secret_hash=f"unused-{session_id}",
        client_secret_expires_at=later,
        expires_at=later,
    )
