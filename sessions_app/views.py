"""Server-rendered pages: the overview, startable sessions, the voice page, the replay."""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import render
from django.urls import reverse

from access_app.models import Target
from access_app.principals import Principal, page_principal, principal_required
from executions_app.models import Execution
from foundation.errors import ApiError
from sessions_app import selectors
from sessions_app.models import SessionInstance
from sessions_app.overview import overview_for
from sessions_app.services.preflight import session_target_visible_or_404
from sessions_app.transports.webrtc_ice import IcePolicy

# Stands for the session id in the per-session URLs the voice page fills in itself.
SESSION_ID_SLOT = "__session__"
WORKFLOW_ID_SLOT = "__workflow__"


def overview(request):
    principal = page_principal(request)  # None: anonymous, who sees the sign-in step only
    return render(request, "overview.html", {"overview": overview_for(principal)})


@principal_required
def sessions_list(request):
    principal = page_principal(request)
    recent = selectors.sessions_visible_to(principal).order_by("-created_at")[:20]
    targets = selectors.session_targets_startable_by(principal)
    return render(request, "sessions/list.html", {"targets": targets, "recent": recent})


@principal_required
def voice_page(request, target: str):
    session_target = _target_visible_or_404(page_principal(request), target)
    definition = session_target.definition or {}
    config = {
        "target": session_target.full_name,
        "transport": definition.get("transport"),
        "media": definition.get("media") or "relay",
        # asked before the microphone: may this caller start it now, and if not, why
        "preflight_url": reverse("session-preflight", args=[session_target.full_name]),
        "start_url": reverse("session-start", args=[session_target.full_name]),
        "end_url": reverse("session-end", args=[SESSION_ID_SLOT]),
        "replay_url": reverse("session-replay", args=[SESSION_ID_SLOT]),
        "workflow_url": reverse("workflow-page", args=[WORKFLOW_ID_SLOT]),
        "workflow_id_slot": WORKFLOW_ID_SLOT,
        "session_id_slot": SESSION_ID_SLOT,
        # the servers and host addresses the control plane's own peer uses
        "ice": IcePolicy.from_settings().browser_config(),
    }
    context = {"target": session_target, "definition": definition, "config": config}
    return render(request, "sessions/voice.html", context)


def _target_visible_or_404(principal: Principal, target: str) -> Target:
    """The page of a target the caller may start, or may start once its tags are approved
    (it then says so, before asking for the microphone: the preflight route); anything
    else, unknown or not for this caller, is the same 404."""
    try:
        return session_target_visible_or_404(principal, target)
    except ApiError:
        raise Http404("session not registered") from None


@principal_required
def session_replay(request, session_id: str):
    principal = page_principal(request)
    session = selectors.session_get_for(principal=principal, session_id=session_id)
    if session is None:
        raise Http404("session not found")
    context = {"session": session, "timeline": _timeline(session)}
    return render(request, "sessions/replay.html", context)


def _timeline(session: SessionInstance) -> list[dict]:
    """The session's events in order, each with its execution's workflow and its offset."""
    events = list(session.events.order_by("id"))
    execution_ids = [e.execution_id for e in events if e.execution_id]
    workflows = dict(
        Execution.objects.filter(execution_id__in=execution_ids).values_list(
            "execution_id", "workflow_id"
        )
    )
    return [
        {
            "event": e,
            "workflow_id": workflows.get(e.execution_id),
            "offset": e.at - session.created_at,
        }
        for e in events
    ]
