"""Channel-layer messages to a live session's runtime (group ``session.<id>``).

Hints only: the runtime re-reads the row, so a lost message delays, never breaks.
"""

from __future__ import annotations

from django.db import transaction

from executions_app.notify import send_hint


def session_group(session_id: str) -> str:
    return f"session.{session_id}"


def notify_session_on_commit(session_id: str, message: dict) -> None:
    transaction.on_commit(lambda: send_hint(session_group(session_id), message))
