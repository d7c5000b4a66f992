"""The ASGI app ``bench/media.py`` runs in daphne: the project's, plus the relay's delay probe.

``GET /__bench__/delays`` answers (and forgets) the seconds each forwarded microphone frame
took from its arrival to its bytes leaving for the provider.
"""

from __future__ import annotations

import json

from agentfield_site.asgi import application as project
from sessions_app.transports import webrtc_media

_delays: list[float] = []
webrtc_media.forward_delay_observer = _delays.append


async def application(scope, receive, send):
    if scope["type"] == "http" and scope["path"] == "/__bench__/delays":
        body = json.dumps(_delays).encode()
        _delays.clear()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return
    await project(scope, receive, send)
