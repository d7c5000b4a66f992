"""Session provider/transport validation, shared by the SDK and the control plane.

The table and the messages are upstream AgentField's (Python wording), byte for byte.
This module imports nothing outside the standard library, so the control plane can use
the very same function without the SDK ever importing Django.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

SUPPORTED_SESSION_TRANSPORTS: dict[str, tuple[str, ...]] = {
    "openai": ("webrtc", "websocket"),
    "openrouter": ("audio_turns",),
}


class SessionTransportError(ValueError):
    """The provider does not support the transport. Carries the normalized values."""

    def __init__(self, provider: str, transport: str, supported: tuple[str, ...]) -> None:
        listed = ", ".join(sorted(supported)) or "none"
        super().__init__(
            f"Unsupported session transport '{transport}' for provider '{provider}'. "
            f"Supported transports: {listed}. AgentField does not infer or switch providers; "
            "set provider and transport explicitly."
        )
        self.provider = provider
        self.transport = transport
        self.supported = tuple(sorted(supported))


@dataclass(frozen=True)
class SessionTransportCapability:
    provider: str
    transport: str


def normalize_session_value(value: object) -> str:
    return str(value or "").strip().lower().replace("-", "_")


def validate_session_transport(
    provider: object,
    transport: object,
    capabilities: Mapping[str, tuple[str, ...] | list[str]] | None = None,
) -> SessionTransportCapability:
    """Check in upstream's order; return the normalized pair or raise ``ValueError``."""
    table = SUPPORTED_SESSION_TRANSPORTS if capabilities is None else capabilities
    normalized_provider = normalize_session_value(provider)
    normalized_transport = normalize_session_value(transport)
    if not normalized_provider:
        raise ValueError("Session provider is required; AgentField does not infer providers.")
    if not normalized_transport:
        raise ValueError("Session transport is required; AgentField does not infer transports.")
    if normalized_provider not in table:
        known = ", ".join(sorted(table))
        raise ValueError(
            f"Unknown session provider '{provider}'. Known providers: {known}. "
            "Register provider capabilities before using a custom session provider."
        )
    supported = tuple(table[normalized_provider])
    if normalized_transport not in supported:
        raise SessionTransportError(normalized_provider, normalized_transport, supported)
    return SessionTransportCapability(normalized_provider, normalized_transport)
