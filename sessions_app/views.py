"""Server-rendered pages: the overview, startable sessions, the voice page, the replay."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render

from access_app.principals import Principal
from executions_app.models import Execution
from foundation.errors import ApiError
from sessions_app import selectors
from sessions_app.services.starting import session_target_split


def overview(request):
    return render(request, "overview.html")


def _ice_servers() -> list[dict[str, str]]:
    """The same STUN/TURN servers as the control plane's peer, as RTCIceServer objects."""
    servers = []
    for url in settings.AGENTFIELD_WEBRTC_ICE_SERVERS:
        server = {"urls": url}
        if url.startswith("turn"):
            server["username"] = settings.AGENTFIELD_WEBRTC_TURN_USERNAME
            server["credential"] = settings.AGENTFIELD_WEBRTC_TURN_CREDENTIAL
        servers.append(server)
    return servers


def _loopback_only() -> bool:
    """When the control plane's peer offers only loopback addresses, so does the page."""
    hosts = settings.AGENTFIELD_WEBRTC_ICE_HOSTS
    return bool(hosts) and all(host.startswith("127.") for host in hosts)


@login_required
def sessions_list(request):
    principal = Principal.from_user(request.user)
    recent = selectors.sessions_visible_to(principal).order_by("-created_at")[:20]
    targets = selectors.session_targets_startable_by(principal)
    return render(request, "sessions/list.html", {"targets": targets, "recent": recent})


@login_required
def voice_page(request, target: str):
    try:
        node_id, name = session_target_split(target)
    except ApiError:
        raise Http404("session target must be <node>.<session>") from None
    principal = Principal.from_user(request.user)
    session_target = selectors.session_target_startable_by(principal, node_id, name)
    if session_target is None:  # unknown, or not startable by this caller: the same 404
        raise Http404("session not registered")
    definition = session_target.definition or {}
    config = {
        "target": session_target.full_name,
        "start_url": f"/api/v1/session-targets/{session_target.full_name}/start",
        "transport": definition.get("transport"),
        "ice_servers": _ice_servers(),
        "loopback_only": _loopback_only(),
    }
    return render(
        request,
        "sessions/voice.html",
        {"target": session_target, "definition": definition, "config": config},
    )


@login_required
def session_replay(request, session_id: str):
    principal = Principal.from_user(request.user)
    session = selectors.session_get_for(principal=principal, session_id=session_id)
    if session is None:
        raise Http404("session not found")
    events = list(session.events.order_by("id"))
    execution_ids = [e.execution_id for e in events if e.execution_id]
    workflows = dict(
        Execution.objects.filter(execution_id__in=execution_ids).values_list(
            "execution_id", "workflow_id"
        )
    )
    timeline = [
        {
            "event": e,
            "workflow_id": workflows.get(e.execution_id),
            "offset": e.at - session.created_at,
        }
        for e in events
    ]
    return render(request, "sessions/replay.html", {"session": session, "timeline": timeline})
