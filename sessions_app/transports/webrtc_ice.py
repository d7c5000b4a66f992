"""ICE for the control plane's aiortc peers: which servers, host addresses and UDP ports.

``IcePolicy.from_settings()`` is the one reading of the ``AGENTFIELD_WEBRTC_*`` ICE settings:
the server's peer gathers with it, and the voice page gets ``browser_config()`` of the same
object (its ``iceServers`` and, in loopback mode, the only host addresses it may offer).

aioice takes no option for host addresses or ports, so ``use`` installs two hooks once per
process, both reading the policy in force when a peer gathers: host candidates come from
``IcePolicy.hosts`` (aioice itself never offers loopback), and host sockets bind inside
``IcePolicy.port_range``. No ICE server is used unless one is configured: aiortc would
otherwise ask Google's public STUN server.

The browser's offer names the addresses our peer will send UDP to (connectivity checks):
``remote_candidates_kept`` drops every candidate outside ``IcePolicy.peer_networks``, and
always link-local, metadata, multicast and unspecified addresses and mDNS names.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import random
import socket
from dataclasses import dataclass

import aioice.ice
import aioice.turn
import aiortc.rtcicetransport
from aioice import Candidate, Connection
from aioice.candidate import candidate_foundation, candidate_priority
from aiortc import RTCConfiguration, RTCIceServer

from access_app.addresses import GLOBAL, PRIVATE_NETWORKS, address_allowed, as_address

log = logging.getLogger(__name__)


DEFAULT_PEER_NETWORKS = (GLOBAL, *PRIVATE_NETWORKS)
LOOPBACK_HOSTS = ("127.0.0.1",)  # tests and `make run` on loopback


@dataclass(frozen=True)
class IcePolicy:
    """How a call does ICE, on both ends: what the server's peer gathers and may reach, and
    what the voice page's peer is told (``browser_config``)."""

    servers: tuple[str, ...] = ()  # stun:, turn:, turns: URLs
    turn_username: str = ""
    turn_credential: str = ""
    hosts: tuple[str, ...] = ()  # empty: every interface but loopback
    port_range: tuple[int, int] | None = None
    # Where offered candidates may point (CIDRs and "global"); loopback mode: loopback only.
    peer_networks: tuple[str, ...] = DEFAULT_PEER_NETWORKS

    @classmethod
    def from_settings(cls) -> IcePolicy:
        from django.conf import settings

        return cls(
            servers=tuple(settings.AGENTFIELD_WEBRTC_ICE_SERVERS),
            turn_username=settings.AGENTFIELD_WEBRTC_TURN_USERNAME,
            turn_credential=settings.AGENTFIELD_WEBRTC_TURN_CREDENTIAL,
            hosts=tuple(settings.AGENTFIELD_WEBRTC_ICE_HOSTS),
            port_range=settings.AGENTFIELD_WEBRTC_PORT_RANGE,
            peer_networks=tuple(settings.AGENTFIELD_WEBRTC_PEER_NETWORKS),
        )

    @classmethod
    def loopback(cls) -> IcePolicy:
        """127.0.0.1 only and no ICE server: what tests, benchmarks and their peers use."""
        return cls(hosts=LOOPBACK_HOSTS)

    @property
    def loopback_only(self) -> bool:
        return bool(self.hosts) and all(ipaddress.ip_address(h).is_loopback for h in self.hosts)

    def peer_may_reach(self, host: str) -> bool:
        """Whether our peer may send to a remote candidate's address (mDNS names: never)."""
        address = as_address(host)
        if address is None:
            return False
        if self.loopback_only:
            return address.is_loopback
        return address_allowed(address, self.peer_networks)

    def ice_servers(self) -> list[dict[str, str]]:
        """The servers as ``RTCIceServer`` dictionaries; TURN URLs carry the credentials."""
        servers = []
        for url in self.servers:
            server = {"urls": url}
            if url.startswith("turn"):
                server.update(username=self.turn_username, credential=self.turn_credential)
            servers.append(server)
        return servers

    def configuration(self) -> RTCConfiguration:
        """The aiortc peer's configuration (empty credentials are left out)."""
        servers = [
            RTCIceServer(**{key: value for key, value in server.items() if value})
            for server in self.ice_servers()
        ]
        return RTCConfiguration(iceServers=servers)

    def browser_config(self) -> dict[str, object]:
        """What the voice page's peer needs: the same ICE servers and, in loopback mode, the
        host addresses it may offer (the server's own), so the call never leaves them."""
        return {
            "iceServers": self.ice_servers(),
            "offerHosts": list(self.hosts) if self.loopback_only else None,
        }


def remote_candidates_kept(sdp: str, policy: IcePolicy) -> str:
    """The offer without the ICE candidates our peer may not send to (``peer_may_reach``).

    Dropping mDNS names also spares aioice's multicast lookups of ``.local`` names. The
    rest of the SDP is left as it is.
    """
    kept = []
    for line in sdp.splitlines():
        if line.startswith("a=candidate:"):
            fields = line.split()
            if len(fields) < 5 or not policy.peer_may_reach(fields[4]):
                continue
        kept.append(line)
    return "\r\n".join(kept) + "\r\n"


_policy = IcePolicy()
_discover_host_addresses = aioice.ice.get_host_addresses


def use(policy: IcePolicy) -> RTCConfiguration:
    """Make ``policy`` the one new peers of this process gather with; their configuration."""
    global _policy
    _policy = policy
    aioice.ice.get_host_addresses = _host_addresses
    aiortc.rtcicetransport.Connection = PortRangeConnection
    return policy.configuration()


def _host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    if not _policy.hosts:
        return _discover_host_addresses(use_ipv4, use_ipv6)
    wanted = {4: use_ipv4, 6: use_ipv6}
    return [host for host in _policy.hosts if wanted[ipaddress.ip_address(host).version]]


class PortRangeConnection(Connection):
    """aioice's connection, with host sockets bound inside the policy's port range."""

    async def get_component_candidates(
        self, component: int, addresses: list[str], timeout: int = 5
    ) -> list[Candidate]:
        port_range = _policy.port_range
        if port_range is None:
            return await super().get_component_candidates(component, addresses, timeout)
        hosts = [
            protocol
            for address in addresses
            if (protocol := await self._bind_host(component, address, port_range)) is not None
        ]
        self._protocols += hosts
        candidates = [protocol.local_candidate for protocol in hosts]
        reflexive, relayed = await asyncio.gather(
            self._reflexive(hosts, timeout),
            # aioice does the TURN part itself when given no host address
            super().get_component_candidates(component, [], timeout),
        )
        return candidates + reflexive + relayed

    async def _bind_host(
        self, component: int, address: str, port_range: tuple[int, int]
    ) -> aioice.ice.StunProtocol | None:
        loop = asyncio.get_running_loop()
        low, high = port_range
        first = random.randint(low, high)
        for offset in range(high - low + 1):
            port = low + (first - low + offset) % (high - low + 1)
            try:
                transport, protocol = await loop.create_datagram_endpoint(
                    lambda: aioice.ice.StunProtocol(self), local_addr=(address, port)
                )
            except OSError:
                continue
            sock = transport.get_extra_info("socket")
            if sock is not None:
                size = aioice.turn.UDP_SOCKET_BUFFER_SIZE
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
            host, bound_port = transport.get_extra_info("sockname")[:2]
            protocol.local_candidate = Candidate(
                foundation=candidate_foundation("host", "udp", host),
                component=component,
                transport="udp",
                priority=candidate_priority(component, "host"),
                host=host,
                port=bound_port,
                type="host",
            )
            return protocol
        log.warning("no free UDP port in %d-%d on %s", low, high, address)
        return None

    async def _reflexive(
        self, hosts: list[aioice.ice.StunProtocol], timeout: int
    ) -> list[Candidate]:
        if not self.stun_server:
            return []
        tasks = [
            asyncio.create_task(aioice.ice.server_reflexive_candidate(p, self.stun_server))
            for p in hosts
            if ipaddress.ip_address(p.local_candidate.host).version == 4
        ]
        if not tasks:
            return []
        done, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        return [t.result()[0] for t in done if t.exception() is None]
