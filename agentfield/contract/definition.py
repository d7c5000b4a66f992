"""One session definition, normalized the same way in the SDK and the control plane."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agentfield.contract.matrix import validate_session_transport
from agentfield.contract.media import validate_session_media
from agentfield.contract.turn_detection import normalize_turn_detection

DEFAULT_MODALITIES = ["audio", "text"]


def _string_list(value: Any, field: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"session {field} must be a list of strings")
    return [v.strip() for v in value if v.strip()]


def _tags(value: Any) -> list[str]:
    return sorted({tag.lower() for tag in _string_list(value, "tags")})


def normalize_session_definition(
    raw: Mapping[str, Any],
    capabilities: Mapping[str, tuple[str, ...] | list[str]] | None = None,
    media_capabilities: Mapping[str, tuple[str, ...] | list[str]] | None = None,
) -> dict[str, Any]:
    """Validate and fill in defaults; raise ``ValueError`` with upstream's messages (and
    ours for ``media``). The tables default to the contract's."""
    name = str(raw.get("name") or "").strip()
    if not name:
        raise ValueError("session name is required")
    pair = validate_session_transport(raw.get("provider"), raw.get("transport"), capabilities)
    media = validate_session_media(
        raw.get("media"), pair.provider, pair.transport, media_capabilities
    )
    tags = _tags(raw.get("tags") or raw.get("proposed_tags"))
    metadata = raw.get("metadata") or {}
    if not isinstance(metadata, Mapping):
        raise ValueError("session metadata must be an object")
    modalities = _string_list(raw.get("modalities"), "modalities") or list(DEFAULT_MODALITIES)
    instructions = raw.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        raise ValueError("session instructions must be a string")
    return {
        "name": name,
        "provider": pair.provider,
        "transport": pair.transport,
        "media": media,
        "model": str(raw.get("model") or ""),
        "modalities": modalities,
        "voice": str(raw.get("voice") or ""),
        "tools": _string_list(raw.get("tools"), "tools"),
        "tags": tags,
        "proposed_tags": tags,
        "metadata": dict(metadata),
        "turn_detection": normalize_turn_detection(
            raw.get("turn_detection"), provider=pair.provider, transport=pair.transport
        ),
        "instructions": instructions or "",
        "handler": bool(raw.get("handler", False)),
    }
