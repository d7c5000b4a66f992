"""ICE settings of the control plane's peers: servers, host addresses, port range."""

from __future__ import annotations

import pytest
from aiortc import RTCPeerConnection

from sessions_app.transports import webrtc_ice
from sessions_app.transports.webrtc_ice import IcePolicy


@pytest.fixture(autouse=True)
def _back_to_loopback():
    yield
    webrtc_ice.use(IcePolicy(hosts=("127.0.0.1",)))


def candidates(sdp: str) -> list[tuple[str, int]]:
    found = []
    for line in sdp.splitlines():
        if line.startswith("a=candidate:"):
            parts = line.split()
            found.append((parts[4], int(parts[5])))
    return found


async def gathered(policy: IcePolicy) -> list[tuple[str, int]]:
    pc = RTCPeerConnection(webrtc_ice.use(policy))
    pc.addTransceiver("audio")
    await pc.setLocalDescription(await pc.createOffer())
    try:
        return candidates(pc.localDescription.sdp)
    finally:
        await pc.close()


def test_no_ice_server_is_used_unless_configured():
    assert IcePolicy().configuration().iceServers == []


def test_turn_urls_carry_the_credentials_and_stun_urls_do_not():
    policy = IcePolicy(
        servers=("stun:stun.example.org:3478", "turn:turn.example.org:3478?transport=udp"),
        turn_username="user",
        turn_credential="secret",
    )
    stun, turn = policy.configuration().iceServers
    assert (stun.username, stun.credential) == (None, None)
    assert (turn.username, turn.credential) == ("user", "secret")


def test_the_policy_comes_from_settings(settings):
    settings.AGENTFIELD_WEBRTC_ICE_HOSTS = ["127.0.0.1"]
    settings.AGENTFIELD_WEBRTC_PORT_RANGE = (41000, 41010)
    policy = webrtc_ice.policy_from_settings()
    assert (policy.hosts, policy.port_range, policy.servers) == (("127.0.0.1",), (41000, 41010), ())


async def test_host_candidates_are_the_configured_addresses_only():
    assert [host for host, _ in await gathered(IcePolicy(hosts=("127.0.0.1",)))] == ["127.0.0.1"]


async def test_host_sockets_bind_inside_the_port_range():
    found = await gathered(IcePolicy(hosts=("127.0.0.1",), port_range=(42100, 42104)))
    assert found and all(host == "127.0.0.1" and 42100 <= port <= 42104 for host, port in found)


def test_only_loopback_candidates_survive_a_loopback_policy():
    offer = (
        "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
        "a=candidate:1 1 udp 2122260223 192.168.1.20 50000 typ host\r\n"
        "a=candidate:2 1 udp 2122260223 1f2e3d4c-aaaa.local 50001 typ host\r\n"
        "a=candidate:3 1 udp 2122260223 127.0.0.1 50002 typ host\r\n"
        "a=end-of-candidates\r\n"
    )
    kept = webrtc_ice.loopback_candidates_only(offer)
    assert [c for c in kept.splitlines() if c.startswith("a=candidate")] == [
        "a=candidate:3 1 udp 2122260223 127.0.0.1 50002 typ host"
    ]
    assert "a=end-of-candidates" in kept
    assert IcePolicy(hosts=("127.0.0.1",)).loopback_only
    assert not IcePolicy().loopback_only and not IcePolicy(hosts=("10.0.0.5",)).loopback_only
