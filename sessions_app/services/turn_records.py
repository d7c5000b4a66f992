"""The database side of turn-based audio: who may take a turn now, opening the session on
its first turn, the bounded conversation history, and the counters. All sync."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from executions_app.models import Execution
from foundation.errors import ApiError
from sessions_app.models import SessionInstance, SessionStatus, Transport
from sessions_app.selectors import node_link_is_live
from sessions_app.services.events import session_event_append
from sessions_app.services.lifecycle import (
    session_activate,
    session_connect,
    session_ensure_live,
    session_finish,
)

# A claim older than this is a turn whose process died: the next turn may take over.
TURN_CLAIM_STALE = timedelta(minutes=10)


def turn_precheck(session: SessionInstance) -> None:
    """What a turn needs before its body is even read: the transport, a live session."""
    if session.transport != Transport.AUDIO_TURNS:
        raise ApiError(
            400,
            f"session {session.session_id} uses transport={session.transport}; "
            f"this route serves transport={Transport.AUDIO_TURNS}",
        )
    session_ensure_live(session)


def turn_claim(session: SessionInstance) -> bool:
    """One turn at a time per session; True if the session's first turn opened it.

    The first turn moves it created -> connecting -> active (there is no call to connect:
    the provider answers each turn on its own). A handler session needs its node's link.
    """
    session.refresh_from_db()
    turn_precheck(session)
    _finish_if_out_of_time(session)
    if session.handler and not node_link_is_live(session.target.node):
        raise ApiError(503, f"session handler for {session.target_name} is not connected")
    now = timezone.now()
    free = Q(turn_started_at__isnull=True) | Q(turn_started_at__lt=now - TURN_CLAIM_STALE)
    if not SessionInstance.objects.filter(free, pk=session.pk).update(turn_started_at=now):
        raise ApiError(409, f"session {session.session_id} is already answering a turn")
    opened = False
    try:
        if session.status == SessionStatus.CREATED:
            session_connect(session)
        if session.status == SessionStatus.CONNECTING:
            opened = session_activate(session)
    except ApiError:
        turn_release(session)
        raise
    return opened


def _finish_if_out_of_time(session: SessionInstance) -> None:
    """What the sweep would do at its next beat, done now: no turn past the session's time."""
    if session.expires_at > timezone.now():
        return
    if session.status == SessionStatus.ACTIVE:
        session_finish(
            session, status=SessionStatus.ENDED, reason="maximum session duration reached"
        )
    else:
        reason = "not connected within the connect TTL"
        session_finish(session, status=SessionStatus.EXPIRED, reason=reason)
    session_ensure_live(session)


def turn_release(session: SessionInstance) -> None:
    SessionInstance.objects.filter(pk=session.pk).update(turn_started_at=None)


def turn_history(session: SessionInstance) -> list[dict[str, str]]:
    return [m for m in session.history or [] if isinstance(m, dict)]


def turn_record(
    session: SessionInstance,
    *,
    user_text: str,
    assistant_text: str,
    audio_in_ms: int,
    audio_out_ms: int,
    assistant_event: dict[str, Any],
) -> None:
    """Log ``turn.assistant``, append the exchange to the history (last N messages,
    starting with a user turn), count the turn and its audio, and free the session for
    the next turn: one transaction."""
    history = [
        *turn_history(session),
        {"role": "user", "text": user_text},
        {"role": "assistant", "text": assistant_text},
    ]
    keep = settings.AGENTFIELD_TURN_HISTORY_MESSAGES
    history = history[-keep:] if keep else []
    while history and history[0]["role"] != "user":
        history.pop(0)
    with transaction.atomic():
        session_event_append(session, "turn.assistant", assistant_event)
        SessionInstance.objects.filter(pk=session.pk).update(
            history=history,
            turn_started_at=None,
            last_seen_at=timezone.now(),
            turns=F("turns") + 1,
            audio_in_ms=F("audio_in_ms") + audio_in_ms,
            audio_out_ms=F("audio_out_ms") + audio_out_ms,
        )
    session.history = history


def turn_tool_calls_since(session: SessionInstance, after: int) -> list[dict[str, Any]]:
    """The tool calls logged after event ``after`` (a handler's), with their status now."""
    calls = list(session.events.filter(id__gt=after, type="tool.call").order_by("id"))
    ids = [call.execution_id for call in calls]
    status = dict(
        Execution.objects.filter(execution_id__in=ids).values_list("execution_id", "status")
    )
    return [
        {
            "tool": call.data.get("tool", ""),
            "target": call.data.get("target", ""),
            "execution_id": call.execution_id,
            "status": status.get(call.execution_id, "unknown"),
        }
        for call in calls
    ]
