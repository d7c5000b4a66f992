"""What a target lets a caller or the model reach, and where an agent node may live.

An approval covers a target's definition as it was approved (decision 0015). The parts of
a definition that change what a caller or the realtime model can reach are its *reach*:
the node's ``base_url`` host (where every call and dispatch token goes) and, for a session,
its provider, transport, media path, model, instructions, handler flag and tools.
Registration stores the reach; a reach that differs from the approved one puts the
definition up for review.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from access_app.addresses import (
    Address,
    Resolver,
    address_allowed,
    as_address,
    system_resolve,
)

SESSION_REACH_FIELDS = ("provider", "transport", "media", "model", "instructions", "handler")
_TOOL_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_\-:]{0,199}$")
_NODE_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,199}$")


class BaseUrlRefused(ValueError):
    """A ``base_url`` an agent node may not register or be called at; the message says why."""


class BaseUrlUnresolved(BaseUrlRefused):
    """A ``base_url`` host with no address now."""


def agent_address_allowed(address: Address, networks: Iterable[str] | None = None) -> bool:
    """Inside AGENTFIELD_AGENT_NETWORKS (or ``networks``) and never link-local/metadata."""
    allowed = settings.AGENTFIELD_AGENT_NETWORKS if networks is None else networks
    return address_allowed(address, allowed)


LOCALHOST = "localhost"  # loopback without asking a resolver; "*.localhost" is a name


def agent_addresses(
    host: str,
    port: int,
    *,
    resolve: Resolver = system_resolve,
    networks: Iterable[str] | None = None,
) -> list[Address]:
    """Where an agent node at ``host`` may be reached now: its address literal, or every
    address one answer of the resolver gives, each checked with ``agent_address_allowed``.
    Exact ``localhost`` is loopback without a lookup. Raises ``BaseUrlRefused`` with the
    reason when the name does not resolve or any address is outside the networks."""
    literal = as_address(host)
    if literal is not None:
        addresses = [literal]
    elif host == LOCALHOST:
        addresses = [ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")]
    else:
        try:
            answer = resolve(host, port)
        except (OSError, UnicodeError):
            answer = []
        addresses = [a for a in (as_address(str(a)) for a in answer) if a is not None]
        if not addresses:
            raise BaseUrlUnresolved(f"base_url host {host!r} does not resolve")
    refused = [a for a in addresses if not agent_address_allowed(a, networks)]
    if refused:
        raise BaseUrlRefused(
            f"base_url host {host!r} is outside the networks agent nodes may use "
            f"({refused[0]}; AGENTFIELD_AGENT_NETWORKS; link-local and metadata addresses "
            "never)"
        )
    return addresses


def base_url_host(base_url: str) -> str:
    """The host part, lowercased, an IPv6 literal without brackets."""
    return (urlsplit(base_url).hostname or "").lower()


def base_url_port(base_url: str) -> int:
    parts = urlsplit(base_url)
    return parts.port or (443 if parts.scheme == "https" else 80)


def base_url_check(
    base_url: str,
    *,
    networks: Iterable[str] | None = None,
    resolve: Resolver = system_resolve,
) -> None:
    """Refuse a ``base_url`` with a query, fragment or userinfo, a scheme other than http(s),
    or a host outside the allowed networks. A hostname is resolved here, at registration,
    and every address it gives must be allowed; dispatch checks again at every call
    (decision 0015)."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BaseUrlRefused("base_url must be an http or https URL with a host")
    if parts.query or parts.fragment or "?" in base_url or "#" in base_url:
        raise BaseUrlRefused("base_url must not carry a query string or a fragment")
    if "@" in parts.netloc:
        raise BaseUrlRefused("base_url must not carry a user name or password")
    try:
        port = base_url_port(base_url)
    except ValueError:
        raise BaseUrlRefused("base_url has an invalid port") from None
    agent_addresses(parts.hostname.lower(), port, resolve=resolve, networks=networks)


def session_tools_qualified(node_id: str, tools: Iterable[str]) -> list[str]:
    """The session's tools as full ``<node>.<name>`` targets, sorted.

    A bare name is a target of the session's own node (upstream's ``sessionToolTargets``),
    so a short name never reaches another node; another node's target must be named in
    full. Two tools with one short name would make the short name (what the model calls
    and the tool route accepts) ambiguous, so that is refused."""
    qualified: dict[str, str] = {}
    for entry in tools:
        entry = entry.strip()
        node, dot, name = entry.partition(".")
        if not dot:
            node, name = node_id, entry
        if not _NODE_PART.match(node) or not _TOOL_PART.match(name):
            raise ValueError(f"session tool {entry!r} must be <reasoner> or <node>.<reasoner>")
        full = f"{node}.{name}"
        if qualified.get(name, full) != full:
            raise ValueError(
                f"session tools {qualified[name]} and {full} share the short name {name!r}"
            )
        qualified[name] = full
    return sorted(set(qualified.values()))


def target_reach(
    *, kind: str, definition: dict[str, Any], node_id: str, base_url: str
) -> dict[str, Any]:
    """The reach of one target as registered now (compared with the approved one)."""
    reach: dict[str, Any] = {"host": base_url_host(base_url)}
    if kind == "session":
        reach.update({field: definition.get(field) for field in SESSION_REACH_FIELDS})
        reach["tools"] = session_tools_qualified(node_id, definition.get("tools") or [])
    return reach


def reach_changes(old: dict[str, Any] | None, new: dict[str, Any]) -> list[dict[str, Any]]:
    """``[{"field", "old", "new"}]`` for the approvals page; everything is new without an
    approved reach."""
    old = old or {}
    return [
        {"field": field, "old": old.get(field), "new": new.get(field)}
        for field in sorted(set(old) | set(new))
        if old.get(field) != new.get(field)
    ]
