"""IP addresses the control plane may send traffic to: one set of rules for every egress.

Three places send traffic to an address someone else chose: agent nodes' ``base_url``s (an
agent key's choice), webhooks (a caller's) and the WebRTC peer's remote candidates (a
browser's). They differ in which networks they admit, but never in what they refuse:
link-local addresses (where cloud metadata services answer), the metadata addresses that
live elsewhere, nothing-addresses, multicast, and any of those written as IPv4-mapped IPv6.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

GLOBAL = "global"  # in a network list: every globally routable address
PRIVATE_NETWORKS = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")

# Never reached, whatever a network setting admits.
NEVER_REACHED = tuple(
    ipaddress.ip_network(net)
    for net in (
        "169.254.0.0/16",  # link-local: 169.254.169.254 answers for AWS, GCP, Azure, ...
        "fe80::/10",
        "fd00:ec2::254/128",  # AWS metadata over IPv6
        "fd20:ce::254/128",  # GCP metadata over IPv6
        "100.100.100.200/32",  # Alibaba Cloud metadata
        "0.0.0.0/8",
        "255.255.255.255/32",
    )
)


# host, port -> the addresses the name has now (one answer); tests inject their own.
Resolver = Callable[[str, int], list[str]]


def system_resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` has now, from the system resolver (one DNS answer)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def as_address(host: str) -> Address | None:
    """The IP address ``host`` is written as (zone dropped, IPv4-mapped IPv6 unwrapped), or
    None when it is a name."""
    try:
        address = ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def never_reached(address: Address) -> bool:
    return (
        address.is_link_local
        or address.is_multicast
        or address.is_unspecified
        or any(address in net for net in NEVER_REACHED)
    )


def address_allowed(address: Address, networks: Iterable[str]) -> bool:
    """Inside one of ``networks`` (CIDRs, or ``global``) and not a never-reached address."""
    if never_reached(address):
        return False
    for network in networks:
        if network == GLOBAL:
            if address.is_global:
                return True
        elif address in ipaddress.ip_network(network):
            return True
    return False
