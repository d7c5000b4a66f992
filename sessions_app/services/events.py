"""Appending to a session's replay log."""

from __future__ import annotations

from typing import Any

from sessions_app.models import SessionEvent, SessionInstance


def session_event_append(
    session: SessionInstance | int, type: str, data: dict[str, Any] | None = None
) -> SessionEvent:
    """One INSERT. ``session`` may be the row or its primary key."""
    data = data or {}
    session_pk = session if isinstance(session, int) else session.pk
    return SessionEvent.objects.create(
        session_id=session_pk,
        type=type,
        data=data,
        execution_id=str(data.get("execution_id") or ""),
    )
