"""Channel-layer messages to a live session's runtime (group ``session.<id>``), to its
event-stream readers (``session-stream.<id>``) and to a node's agent link.

Hints only: the runtime re-reads the row, so a lost message delays, never breaks.
"""

from __future__ import annotations

from django.db import transaction

from foundation.hints import send_hint, send_to_channel
from sessions_app.services.links import link_channel


def session_group(session_id: str) -> str:
    return f"session.{session_id}"


def session_stream_group(session_id: str) -> str:
    """What the session's call sends its own client, for the session's event-stream readers
    in any process (``sessions_app.transports.event_stream``)."""
    return f"session-stream.{session_id}"


def notify_session_on_commit(session_id: str, message: dict) -> None:
    transaction.on_commit(lambda: send_hint(session_group(session_id), message))


def tell_node_on_commit(node_id: str, message: dict) -> None:
    """To the node's newest agent link, if it has one, once the transaction commits."""

    def send() -> None:
        channel = link_channel(node_id)
        if channel:
            send_to_channel(channel, message)

    transaction.on_commit(send)
