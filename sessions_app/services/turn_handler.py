"""Handler-driven turns: the user's words go to the node's handler over its agent link, and
what the handler says (``session.say``) is what the provider speaks.

Between turns nothing holds a turn-based session, so the link consumer writes what a node
sends about one straight to the database (``handler_message_record``): a say becomes a
``handler.say`` event, an end or an error finishes the session. The turn waiting for its
answer listens on ``session.<id>`` for hints and re-reads the log, so a lost hint costs one
re-read interval, never the answer.
"""

from __future__ import annotations

import time
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from foundation.errors import ApiError
from foundation.waits import GroupHints
from sessions_app.hints import session_group
from sessions_app.models import LIVE_STATUSES, SessionEvent, SessionInstance, SessionStatus
from sessions_app.services.events import session_event_append
from sessions_app.services.lifecycle import session_finish, session_gone_error
from sessions_app.services.links import link_channel

_link_channel = database_sync_to_async(link_channel)


def handler_message_record(session: SessionInstance, message: dict[str, Any]) -> None:
    """A node's ``session.say`` / ``.end`` / ``.error`` about a turn-based session."""
    kind = message.get("type")
    if kind == "session.say":
        session_event_append(session, "handler.say", {"text": message.get("text") or ""})
    elif kind == "session.end":
        reason = message.get("reason") or "ended by the handler"
        session_finish(session, status=SessionStatus.ENDED, reason=reason)
    elif kind == "session.error":
        reason = f"handler error: {message.get('message') or 'unknown'}"
        session_finish(session, status=SessionStatus.FAILED, reason=reason[:300])


async def _said_after(session: SessionInstance, after: int) -> tuple[str | None, str]:
    """(the first say logged after event ``after``, or None; the session's status)."""
    said = (
        await SessionEvent.objects.filter(session_id=session.pk, id__gt=after, type="handler.say")
        .order_by("id")
        .values_list("data", flat=True)
        .afirst()
    )
    status = (
        await SessionInstance.objects.filter(pk=session.pk).values_list("status", flat=True).aget()
    )
    return (str(said.get("text") or "") if said is not None else None), status


async def handler_answer(
    session: SessionInstance, *, turn: dict[str, Any], opened: bool, after: int, timeout: float
) -> str:
    """Give the node the turn (after ``session.started`` on the session's first turn) and
    return the text of the first say logged after event ``after``.

    410 if the handler ends the session instead; 504 if it says nothing in ``timeout``.
    """
    async with GroupHints(session_group(session.session_id)) as hints:
        await _to_node(session, turn, opened)
        deadline = time.monotonic() + timeout
        while True:
            said, status = await _said_after(session, after)
            if said is not None:
                return said
            if status not in LIVE_STATUSES:
                raise session_gone_error(session.session_id, status)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ApiError(
                    504,
                    f"session handler for {session.target_name} did not answer "
                    f"within {timeout:g} s",
                )
            await hints.pause(remaining)


async def _to_node(session: SessionInstance, turn: dict[str, Any], opened: bool) -> None:
    """Over the node's newest link, in order: ``session.started`` if new, then the turn."""
    link = await _link_channel(session.node_id)
    if link is None:
        raise ApiError(503, f"session handler for {session.target_name} is not connected")
    layer, sid = get_channel_layer(), session.session_id
    if opened:
        await layer.send(
            link,
            {
                "type": "session.started",
                "session_id": sid,
                "target": session.target_name,
                "caller": session.owner_name or session.owner,
                "metadata": session.metadata,
            },
        )
    await layer.send(link, {"type": "session.input", "session_id": sid, "turn": turn})
