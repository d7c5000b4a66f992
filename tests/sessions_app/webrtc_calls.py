"""Calls for WebRTC tests: an offer posted to the route in-process, and a connected call
(the session row once it has finished: ``tests.sessions_app.rows``)."""

from __future__ import annotations

from django.test import AsyncClient

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
