"""The floor of ``bench/media.py``: a bare aiortc echo peer (aiortc's own MediaRelay).

    python bench/media_echo.py PORT

``POST /offer`` (SDP in, SDP out) echoes the caller's audio back on its own track; ICE on
127.0.0.1 only, no STUN. ``GET /delays`` answers (and forgets) the seconds from a frame's
arrival to its encoded bytes being ready to leave, the same probe as the relay's.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from aiohttp import web
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtcrtpsender import RTCRtpSender

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from sessions_app.transports import webrtc_ice

relay = MediaRelay()
peers: set[RTCPeerConnection] = set()
delays: list[float] = []
arrivals: dict[int, float] = {}


class Stamped(MediaStreamTrack):
    """The caller's track as the relay reads it: notes when each frame arrived."""

    kind = "audio"

    def __init__(self, track: MediaStreamTrack) -> None:
        super().__init__()
        self.track = track

    async def recv(self):
        frame = await self.track.recv()
        arrivals[id(frame)] = asyncio.get_running_loop().time()
        return frame


class Timed(MediaStreamTrack):
    """The relayed track the sender encodes: remembers its last frame's arrival."""

    kind = "audio"

    def __init__(self, track: MediaStreamTrack) -> None:
        super().__init__()
        self.track = track
        self.arrived: float | None = None

    async def recv(self):
        frame = await self.track.recv()
        self.arrived = arrivals.pop(id(frame), None)
        return frame


_next_encoded_frame = RTCRtpSender._next_encoded_frame


async def _timed_next_encoded_frame(self, codec):
    encoded = await _next_encoded_frame(self, codec)
    track = self.track
    if isinstance(track, Timed) and track.arrived is not None:
        delays.append(asyncio.get_running_loop().time() - track.arrived)
        track.arrived = None
    return encoded


RTCRtpSender._next_encoded_frame = _timed_next_encoded_frame


async def offer(request: web.Request) -> web.Response:
    pc = RTCPeerConnection(webrtc_ice.use(webrtc_ice.IcePolicy.loopback()))
    peers.add(pc)

    @pc.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        pc.addTrack(Timed(relay.subscribe(Stamped(track))))

    @pc.on("connectionstatechange")
    async def on_state() -> None:
        if pc.connectionState in ("failed", "closed"):
            peers.discard(pc)
            await pc.close()

    await pc.setRemoteDescription(RTCSessionDescription(sdp=await request.text(), type="offer"))
    await pc.setLocalDescription(await pc.createAnswer())
    return web.Response(text=pc.localDescription.sdp, content_type="application/sdp")


async def take_delays(request: web.Request) -> web.Response:
    body = json.dumps(delays)
    delays.clear()
    return web.Response(text=body, content_type="application/json")


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def main() -> None:
    app = web.Application()
    app.router.add_post("/offer", offer)
    app.router.add_get("/delays", take_delays)
    app.router.add_get("/healthz", healthz)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)


if __name__ == "__main__":
    main()
