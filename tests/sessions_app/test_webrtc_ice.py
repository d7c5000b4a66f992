"""ICE settings of the control plane's peers: servers, host addresses, port range."""

from __future__ import annotations

import pytest
from aiortc import RTCPeerConnection

from sessions_app.transports import webrtc_ice
from sessions_app.transports.webrtc_ice import IcePolicy


@pytest.fixture(autouse=True)
def _back_to_loopback():
    yield
    webrtc_ice.use(IcePolicy.loopback())


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


def test_the_page_gets_the_servers_the_peer_uses():
    policy = IcePolicy(
        servers=("stun:stun.example.org:3478", "turn:turn.example.org:3478?transport=udp"),
        turn_username="user",
        turn_credential="secret",
    )
    page = policy.browser_config()
    stun, turn = page["iceServers"]
    assert stun == {"urls": "stun:stun.example.org:3478"}
    assert turn == {"urls": policy.servers[1], "username": "user", "credential": "secret"}
    assert [s["urls"] for s in page["iceServers"]] == [
        s.urls for s in policy.configuration().iceServers
    ]


def test_in_loopback_mode_the_page_offers_the_peers_hosts_and_no_ice_server(settings):
    settings.AGENTFIELD_WEBRTC_ICE_HOSTS = ["127.0.0.1"]
    settings.AGENTFIELD_WEBRTC_ICE_SERVERS = []
    expected = {"iceServers": [], "offerHosts": ["127.0.0.1"]}
    assert IcePolicy.from_settings().browser_config() == expected
    assert IcePolicy.loopback().browser_config() == expected
    assert IcePolicy().browser_config() == {"iceServers": [], "offerHosts": None}


def test_the_policy_comes_from_settings(settings):
    settings.AGENTFIELD_WEBRTC_ICE_HOSTS = ["127.0.0.1"]
    settings.AGENTFIELD_WEBRTC_PORT_RANGE = (41000, 41010)
    policy = webrtc_ice.IcePolicy.from_settings()
    assert (policy.hosts, policy.port_range, policy.servers) == (("127.0.0.1",), (41000, 41010), ())


async def test_host_candidates_are_the_configured_addresses_only():
    assert [host for host, _ in await gathered(IcePolicy(hosts=("127.0.0.1",)))] == ["127.0.0.1"]


async def test_host_sockets_bind_inside_the_port_range():
    found = await gathered(IcePolicy(hosts=("127.0.0.1",), port_range=(42100, 42104)))
    assert found and all(host == "127.0.0.1" and 42100 <= port <= 42104 for host, port in found)


def offered(*addresses: str) -> str:
    lines = ["v=0", "m=audio 9 UDP/TLS/RTP/SAVPF 111"]
    for n, address in enumerate(addresses):
        lines.append(f"a=candidate:{n} 1 udp 2122260223 {address} {50000 + n} typ host")
    return "\r\n".join([*lines, "a=end-of-candidates"]) + "\r\n"


def kept_addresses(sdp: str) -> list[str]:
    return [line.split()[4] for line in sdp.splitlines() if line.startswith("a=candidate:")]


def test_only_loopback_candidates_survive_a_loopback_policy():
    offer = offered("192.168.1.20", "1f2e3d4c-aaaa.local", "127.0.0.1", "8.8.8.8")
    kept = webrtc_ice.remote_candidates_kept(offer, IcePolicy(hosts=("127.0.0.1",)))
    assert kept_addresses(kept) == ["127.0.0.1"]
    assert "a=end-of-candidates" in kept and kept.startswith("v=0\r\nm=audio")


NEVER = [
    "169.254.169.254",  # cloud metadata (link-local)
    "169.254.10.1",
    "fe80::1",
    "fe80::1%eth0",
    "fd00:ec2::254",  # AWS metadata over IPv6, inside the private fc00::/7
    "100.100.100.200",  # Alibaba Cloud metadata
    "::ffff:169.254.169.254",  # IPv4-mapped
    "0.0.0.0",
    "255.255.255.255",
    "224.0.0.251",  # mDNS multicast
    "ff02::fb",
    "1f2e3d4c-aaaa-bbbb-cccc-0123456789ab.local",  # an mDNS name
    "not-an-address",
]


def test_the_default_policy_keeps_global_and_private_and_drops_the_rest():
    policy = IcePolicy()  # the defaults: global and private networks
    offer = offered("203.0.113.7", "2001:db8::1", "8.8.8.8", "10.1.2.3", "192.168.1.20",
                    "172.16.5.4", "fd12:3456::1", "127.0.0.1", "::1", *NEVER)  # fmt: skip
    # documentation ranges (203.0.113/24, 2001:db8::/32) are not global: dropped too
    assert kept_addresses(webrtc_ice.remote_candidates_kept(offer, policy)) == [
        "8.8.8.8", "10.1.2.3", "192.168.1.20", "172.16.5.4", "fd12:3456::1",
    ]  # fmt: skip


def test_link_local_and_metadata_are_never_reached_even_when_listed():
    policy = IcePolicy(peer_networks=("0.0.0.0/0", "::/0"))
    assert kept_addresses(webrtc_ice.remote_candidates_kept(offered(*NEVER), policy)) == []
    assert policy.peer_may_reach("127.0.0.1") and policy.peer_may_reach("10.0.0.1")


def test_the_networks_setting_narrows_what_the_peer_may_reach():
    policy = IcePolicy(peer_networks=("10.20.0.0/16",))
    offer = offered("10.20.1.1", "10.21.1.1", "8.8.8.8", "192.168.1.1")
    assert kept_addresses(webrtc_ice.remote_candidates_kept(offer, policy)) == ["10.20.1.1"]


def test_the_peer_networks_come_from_settings(settings):
    assert tuple(settings.AGENTFIELD_WEBRTC_PEER_NETWORKS) == webrtc_ice.DEFAULT_PEER_NETWORKS
    settings.AGENTFIELD_WEBRTC_PEER_NETWORKS = ["10.20.0.0/16"]
    assert webrtc_ice.IcePolicy.from_settings().peer_networks == ("10.20.0.0/16",)


def test_the_peer_networks_setting_is_read_strictly(monkeypatch):
    from agentfield_site.env import EnvError, env_network_list

    def read() -> list[str]:
        return env_network_list("AGENTFIELD_WEBRTC_PEER_NETWORKS", [], allow_global=True)

    monkeypatch.setenv("AGENTFIELD_WEBRTC_PEER_NETWORKS", "global, 10.0.0.0/8,fc00::/7")
    assert read() == [
        "global", "10.0.0.0/8", "fc00::/7",
    ]  # fmt: skip
    for bad in ("10.0.0.1/8", "everywhere"):
        monkeypatch.setenv("AGENTFIELD_WEBRTC_PEER_NETWORKS", bad)
        with pytest.raises(EnvError, match="AGENTFIELD_WEBRTC_PEER_NETWORKS"):
            read()
