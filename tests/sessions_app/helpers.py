"""Builders for session tests: an approved voice node, a support node, policies."""

from __future__ import annotations

import re
from typing import Any

from access_app.models import AccessPolicy, Target
from access_app.services.approvals import target_tags_decide
from tests.factories import node_body, register_approved_node, session_def

VOICE_NODE = "voice-support-af"
TOOL_NODE = "support"


def register_voice_node(admin_client, *, approve: bool = True, **session_overrides: Any):
    body = node_body(VOICE_NODE, reasoners=[], sessions=[session_def(**session_overrides)])
    response = admin_client.post("/api/v1/nodes/register", body, format="json")
    assert response.status_code == 201, response.content
    if approve:
        for target in Target.objects.filter(node__node_id=VOICE_NODE):
            target_tags_decide(target=target, decision="approved", actor="test")


def session_world(admin_client, base_url: str = "http://127.0.0.1:9", **session_overrides):
    """The voice node, the support node with its reasoner, and the policies that allow
    team:a to start the session and the session to call support tools."""
    register_voice_node(admin_client, **session_overrides)
    register_approved_node(admin_client, TOOL_NODE, base_url, ["resolve_voice_turn"])
    AccessPolicy.objects.create(
        name="team-a-starts-voice",
        caller_tags=["team:a"],
        target_tags=["support:voice"],
        action="allow",
    )
    AccessPolicy.objects.create(
        name="voice-sessions-call-support",
        caller_tags=["support:voice"],
        target_tags=["support"],
        action="allow",
    )


def start(caller_client, target: str = f"{VOICE_NODE}.voice", body: dict | None = None):
    return caller_client.post(f"/api/v1/session-targets/{target}/start", body or {}, format="json")


def unmasked(html: bytes) -> bytes:
    """A page without its CSRF tokens (masked afresh in every response), to compare two."""
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", html)
