"""The session state machine: created -> connecting -> active -> ended | failed | expired.

Every transition is one conditional UPDATE, so two processes (the runtime, the ``end``
route, the expiry sweep) can race and exactly one wins. The winner logs the event and
tells the live runtime through the channel layer after the commit.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from foundation.errors import ApiError
from sessions_app.hints import notify_session_on_commit, tell_node_on_commit
from sessions_app.models import LIVE_STATUSES, SessionInstance, SessionStatus, Transport
from sessions_app.services.direct_calls import direct_call_hang_up_orphaned
from sessions_app.services.events import session_event_append


def session_gone_error(session_id: str, status: str) -> ApiError:
    """Upstream's 410 for a session that has finished."""
    return ApiError(410, f"session {session_id} is {status}")


def session_ensure_live(session: SessionInstance) -> None:
    """410 (``ApiError``) unless the session is created, connecting or active."""
    if not session.is_live:
        raise session_gone_error(session.session_id, session.status)


def _already_connected(session: SessionInstance) -> ApiError:
    return ApiError(409, f"session {session.session_id} is already connected")


def session_ensure_connectable(session: SessionInstance) -> None:
    """410 for a finished session, 409 for one a transport already holds; claims nothing."""
    session_ensure_live(session)
    if session.status != SessionStatus.CREATED:
        raise _already_connected(session)


def session_connect(session: SessionInstance) -> SessionInstance:
    """created -> connecting, for the transport that accepts the call (409 if taken)."""
    session_ensure_live(session)
    now = timezone.now()
    claimed = SessionInstance.objects.filter(pk=session.pk, status=SessionStatus.CREATED).update(
        status=SessionStatus.CONNECTING, last_seen_at=now
    )
    session.refresh_from_db()
    if not claimed:
        session_ensure_live(session)
        raise _already_connected(session)
    session_event_append(session, "session.connecting", {"transport": session.transport})
    return session


def session_activate(session: SessionInstance) -> bool:
    """connecting -> active once the provider is open; the maximum duration starts now."""
    now = timezone.now()
    expires = now + timedelta(seconds=settings.AGENTFIELD_SESSION_MAX_SECONDS)
    activated = SessionInstance.objects.filter(
        pk=session.pk, status=SessionStatus.CONNECTING
    ).update(status=SessionStatus.ACTIVE, connected_at=now, expires_at=expires, last_seen_at=now)
    if activated:
        session.status, session.connected_at, session.expires_at = (
            SessionStatus.ACTIVE,
            now,
            expires,
        )
        session_event_append(session, "session.active", {"expires_at": expires.isoformat()})
    return bool(activated)


def session_finish(
    session: SessionInstance, *, status: str = SessionStatus.ENDED, reason: str = ""
) -> bool:
    """The one idempotent way out. False if the session had already finished."""
    assert status not in LIVE_STATUSES
    now = timezone.now()
    reason = (reason or status)[:300]
    with transaction.atomic():
        finished = SessionInstance.objects.filter(pk=session.pk, status__in=LIVE_STATUSES).update(
            status=status, ended_at=now, end_reason=reason
        )
        if finished:
            session_event_append(session, f"session.{status}", {"reason": reason})
            notify_session_on_commit(
                session.session_id, {"type": "session.finished", "status": status, "reason": reason}
            )
            if session.handler and session.transport == Transport.AUDIO_TURNS:
                # a runtime tells the handler itself; between turns there is none
                message = {"type": "session.ended", "session_id": session.session_id}
                tell_node_on_commit(session.node_id, {**message, "reason": reason})
    session.refresh_from_db()
    return bool(finished)


def sessions_end_started_by(owner: str, *, reason: str) -> int:
    """End every live session ``owner`` started (its key was revoked), each through
    ``session_finish``, so whatever process holds a call hears of it and releases it."""
    live = SessionInstance.objects.filter(owner=owner, status__in=LIVE_STATUSES)
    return sum(session_finish(session, reason=reason) for session in live)


def session_touch(session: SessionInstance, **counters: int) -> None:
    """The runtime's heartbeat: proves the call is held, and adds to the counters."""
    updates = {name: F(name) + value for name, value in counters.items() if value}
    SessionInstance.objects.filter(pk=session.pk).update(last_seen_at=timezone.now(), **updates)


def sessions_expire() -> dict[str, int]:
    """The sweep behind the beat task: nothing stays live past its time."""
    now = timezone.now()
    counts = {"expired": 0, "ended": 0, "failed": 0}
    unconnected = SessionInstance.objects.filter(
        status__in=(SessionStatus.CREATED, SessionStatus.CONNECTING), expires_at__lte=now
    )
    for session in unconnected:
        reason = "not connected within the connect TTL"
        counts["expired"] += session_finish(session, status=SessionStatus.EXPIRED, reason=reason)
    for session in SessionInstance.objects.filter(status=SessionStatus.ACTIVE, expires_at__lte=now):
        reason = "maximum session duration reached"
        counts["ended"] += session_finish(session, status=SessionStatus.ENDED, reason=reason)
    stale = SessionInstance.objects.filter(
        status__in=(SessionStatus.CONNECTING, SessionStatus.ACTIVE),
        last_seen_at__lt=now - timedelta(seconds=settings.AGENTFIELD_SESSION_STALE_SECONDS),
    ).exclude(transport=Transport.AUDIO_TURNS)  # no process holds a turn-based session
    for session in stale:
        reason = "the process holding the call stopped answering"
        if session_finish(session, status=SessionStatus.FAILED, reason=reason):
            counts["failed"] += 1
            direct_call_hang_up_orphaned(session)
    return counts
