"""Calls for WebRTC tests: an offer posted to the route in-process, a connected call, and
the session row once it has finished."""

from __future__ import annotations

import time

from channels.db import database_sync_to_async
from django.test import AsyncClient

from foundation.waits import GroupHints
from sessions_app.hints import session_group
from sessions_app.models import SessionInstance
from tests.sessions_app.webrtc_client import BrowserPeer


async def post_offer(session_id: str, sdp: str, *, caller=None, query: str = "", headers=None):
    headers = dict(headers or {})
    if caller is not None:
        headers["X-API-Key"] = caller.secret
    return await AsyncClient().post(
        f"/api/v1/session-instances/{session_id}/realtime-offer{query}",
        data=sdp,
        content_type="application/sdp",
        headers=headers,
    )


async def open_call(session_id: str, **credentials) -> BrowserPeer:
    peer = BrowserPeer()
    response = await post_offer(session_id, await peer.offer(), **credentials)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/sdp"
    await peer.accept(response.content.decode())
    await peer.connected()
    return peer


@database_sync_to_async
def session_row(session_id: str) -> SessionInstance:
    return SessionInstance.objects.get(session_id=session_id)


async def finished_row(session_id: str, timeout: float = 10) -> SessionInstance:
    """The row once the session has finished: woken by the hint ``session_finish`` sends to
    the session's group, re-read in between (the product's own wait, ``GroupHints``)."""
    deadline = time.monotonic() + timeout
    async with GroupHints(session_group(session_id)) as hints:
        while (row := await session_row(session_id)).is_live:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"session {session_id} still {row.status} after {timeout}s")
            await hints.pause(remaining)
    return row
