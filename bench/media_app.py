"""The ASGI app ``bench/media.py`` runs in daphne: the project's, plus the relay's delay probe.

``GET /__bench__/delays`` answers (and forgets) the seconds each forwarded microphone frame
took from its arrival to its bytes leaving for the provider.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

from aiortc.mediastreams import MediaStreamTrack

from agentfield_site.asgi import application as project
from sessions_app.transports import webrtc, webrtc_media

_delays: list[float] = []


class TimedMicPump(webrtc_media.MicPump):
    """The call's microphone pump, noting for each forwarded frame the seconds from its
    arrival to its bytes leaving for the provider."""

    def __init__(
        self, track: MediaStreamTrack, forward: Callable[[bytes], Awaitable[None]]
    ) -> None:
        async def timed(pcm: bytes) -> None:
            await forward(pcm)
            _delays.append(asyncio.get_running_loop().time() - self._arrived)

        super().__init__(track, timed)
        self._arrived = 0.0

    async def relay(self, frame) -> None:
        self._arrived = asyncio.get_running_loop().time()
        await super().relay(frame)


webrtc.MicPump = TimedMicPump  # the calls this process answers use it


async def application(scope, receive, send):
    if scope["type"] == "http" and scope["path"] == "/__bench__/delays":
        body = json.dumps(_delays).encode()
        _delays.clear()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return
    await project(scope, receive, send)
