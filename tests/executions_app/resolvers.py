"""DNS for the egress tests: resolvers injected in place of the system's, so no test looks a
name up and only loopback is ever connected to."""

from __future__ import annotations

from collections.abc import Callable

Resolve = Callable[[str, int], list[str]]


def answers(*addresses: str) -> Resolve:
    """A resolver that answers ``addresses`` for any name; ``.calls`` lists what it was asked."""
    calls: list[tuple[str, int]] = []

    def resolve(host: str, port: int) -> list[str]:
        calls.append((host, port))
        return list(addresses)

    resolve.calls = calls
    return resolve


def no_lookup(host: str, port: int) -> list[str]:
    raise AssertionError(f"{host} must not be resolved")
