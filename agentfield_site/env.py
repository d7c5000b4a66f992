"""Small typed readers for settings that come from the environment.

Every reader names the variable in its error, so a bad value stops start-up with a
message an operator can act on (healthchecks' ``hc/settings.py`` habit).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import NamedTuple

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class EnvError(ImproperlyConfigured):
    """A variable is set to a value its reader cannot accept."""

    def __init__(self, name: str, expected: str, value: str) -> None:
        super().__init__(f"Environment variable {name}={value!r} is invalid: expected {expected}.")
        self.name = name


def _raw(name: str, environ: Mapping[str, str] | None) -> str | None:
    value = (os.environ if environ is None else environ).get(name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def env_str(name: str, default: str = "", *, environ: Mapping[str, str] | None = None) -> str:
    value = _raw(name, environ)
    return default if value is None else value


def env_bool(name: str, default: bool, *, environ: Mapping[str, str] | None = None) -> bool:
    value = _raw(name, environ)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise EnvError(name, "a boolean (true/false, 1/0, yes/no, on/off)", value)


def env_int(
    name: str,
    default: int,
    *,
    minimum: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    value = _raw(name, environ)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise EnvError(name, "an integer", value) from None
    if minimum is not None and number < minimum:
        raise EnvError(name, f"an integer >= {minimum}", value)
    return number


def env_float(
    name: str,
    default: float,
    *,
    minimum: float | None = None,
    environ: Mapping[str, str] | None = None,
) -> float:
    value = _raw(name, environ)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise EnvError(name, "a number", value) from None
    if number != number or number in (float("inf"), float("-inf")):
        raise EnvError(name, "a finite number", value)
    if minimum is not None and number < minimum:
        raise EnvError(name, f"a number >= {minimum}", value)
    return number


def env_list(
    name: str, default: list[str], *, environ: Mapping[str, str] | None = None
) -> list[str]:
    value = _raw(name, environ)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


class Rate(NamedTuple):
    """At most ``count`` requests per ``seconds``."""

    count: int
    seconds: int


_RATE = re.compile(r"^(\d+)\s*/\s*(s|sec|second|m|min|minute|h|hour|d|day)$")
_PERIOD_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def env_rate(name: str, default: str, *, environ: Mapping[str, str] | None = None) -> Rate:
    """A rate such as ``60/min``: a count, a slash, then s, min, hour or day."""
    value = _raw(name, environ)
    text = (default if value is None else value).lower()
    match = _RATE.match(text)
    if match is None or int(match.group(1)) < 1:
        raise EnvError(name, "a rate such as 60/min (per s, min, hour or day, count >= 1)", text)
    return Rate(int(match.group(1)), _PERIOD_SECONDS[match.group(2)[0]])


def env_choice(
    name: str, default: str, choices: tuple[str, ...], *, environ: Mapping[str, str] | None = None
) -> str:
    value = _raw(name, environ)
    if value is None:
        return default
    if value.lower() not in choices:
        raise EnvError(name, "one of " + ", ".join(choices), value)
    return value.lower()


def env_url(
    name: str,
    default: str,
    schemes: tuple[str, ...],
    *,
    environ: Mapping[str, str] | None = None,
) -> str:
    from urllib.parse import urlsplit

    value = _raw(name, environ)
    if value is None:
        return default
    parts = urlsplit(value)
    if parts.scheme not in schemes or not (parts.netloc or parts.path):
        # URLs may carry passwords: name the scheme only, never the whole value.
        raise EnvError(name, "a URL with scheme " + " or ".join(schemes), f"{parts.scheme}://...")
    return value


def env_origin_list(
    name: str, default: list[str], *, environ: Mapping[str, str] | None = None
) -> list[str]:
    """Comma-separated origins such as ``https://app.example.com`` (``https://*.example.com``
    for subdomains): a scheme, a host, an optional port, no path."""
    from urllib.parse import urlsplit

    origins = env_list(name, default, environ=environ)
    for origin in origins:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path.strip("/"):
            raise EnvError(name, "comma-separated origins such as https://app.example.com", origin)
    return [origin.rstrip("/") for origin in origins]


def env_header_match(
    name: str, *, environ: Mapping[str, str] | None = None
) -> tuple[str, str] | None:
    """``Header-Name: value`` as Django's ``(HTTP_HEADER_NAME, value)`` pair; None if unset."""
    value = _raw(name, environ)
    if value is None:
        return None
    header, colon, expected = value.partition(":")
    header, expected = header.strip(), expected.strip()
    if not colon or not expected or not re.fullmatch(r"[A-Za-z0-9-]+", header):
        raise EnvError(
            name, "a header and the value it must have, such as X-Forwarded-Proto: https", value
        )
    return "HTTP_" + header.upper().replace("-", "_"), expected


def env_ip_list(
    name: str, default: list[str], *, environ: Mapping[str, str] | None = None
) -> list[str]:
    """Comma-separated IPv4/IPv6 addresses, normalised (``::1``, not ``0::1``)."""
    import ipaddress

    items = env_list(name, default, environ=environ)
    try:
        return [str(ipaddress.ip_address(item)) for item in items]
    except ValueError:
        raise EnvError(name, "comma-separated IP addresses", ",".join(items)) from None


def env_port_range(
    name: str, *, environ: Mapping[str, str] | None = None
) -> tuple[int, int] | None:
    """``LOW-HIGH`` (inclusive, 1024..65535), or None when unset."""
    value = _raw(name, environ)
    if value is None:
        return None
    low, dash, high = value.partition("-")
    try:
        ports = (int(low), int(high)) if dash else None
    except ValueError:
        ports = None
    if ports is None or not 1024 <= ports[0] <= ports[1] <= 65535:
        raise EnvError(name, "a port range LOW-HIGH within 1024-65535", value)
    return ports


def env_network_list(
    name: str,
    default: list[str],
    *,
    allow_global: bool = False,
    environ: Mapping[str, str] | None = None,
) -> list[str]:
    """Comma-separated CIDR networks (``10.0.0.0/8``, ``fc00::/7``; a bare address is one
    host), normalised; host bits set are an error, so a typo does not widen a network.
    With ``allow_global``, the word ``global`` stands for every globally routable address."""
    import ipaddress

    networks = []
    for item in env_list(name, default, environ=environ):
        if allow_global and item.lower() == "global":
            networks.append("global")
            continue
        try:
            networks.append(str(ipaddress.ip_network(item, strict=True)))
        except ValueError:
            expected = "comma-separated CIDR networks" + (" or the word global" * allow_global)
            raise EnvError(name, expected, item) from None
    return networks
