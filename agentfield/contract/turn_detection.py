"""``turn_detection`` for OpenAI sessions: upstream's defaults and SDK-form messages."""

from __future__ import annotations

import math
from typing import Any

_TYPES = ("server_vad", "semantic_vad")
_EAGERNESS = ("auto", "low", "medium", "high")
_FIELDS = (
    "type",
    "threshold",
    "prefix_padding_ms",
    "silence_duration_ms",
    "create_response",
    "interrupt_response",
    "eagerness",
)
_DURATIONS = ("prefix_padding_ms", "silence_duration_ms")
_BOOLEANS = ("create_response", "interrupt_response")
SERVER_VAD_DEFAULTS: dict[str, Any] = {
    "type": "server_vad",
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 500,
    "create_response": True,
    "interrupt_response": True,
}
SEMANTIC_VAD_DEFAULTS: dict[str, Any] = {
    "type": "semantic_vad",
    "eagerness": "auto",
    "create_response": True,
    "interrupt_response": True,
}


def _allows_turn_detection(provider: str, transport: str) -> bool:
    return provider == "openai" and transport in ("webrtc", "websocket")


def normalize_turn_detection(value: Any, *, provider: str, transport: str) -> dict[str, Any] | None:
    """Validated ``turn_detection`` with defaults filled in, or None where not applicable.

    Raises ``ValueError`` with upstream's message on a bad value. ``provider`` and
    ``transport`` must already be normalized.
    """
    if not _allows_turn_detection(provider, transport):
        if value is not None:
            raise ValueError(
                "turn_detection requires provider=openai and transport=webrtc or websocket"
            )
        return None
    if value is None:
        return dict(SERVER_VAD_DEFAULTS)
    if not isinstance(value, dict):
        raise ValueError("turn_detection must be an object")
    for key, item in value.items():
        if key not in _FIELDS:
            raise ValueError(f'unknown turn_detection field "{key}"')
        if item is None:
            raise ValueError(f"turn_detection.{key} must not be null")
    kind = value.get("type")
    if kind not in _TYPES:
        raise ValueError("turn_detection.type must be server_vad or semantic_vad")
    for key in _BOOLEANS:
        if key in value and not isinstance(value[key], bool):
            raise ValueError(f"turn_detection.{key} must be a boolean")
    if kind == "server_vad":
        if "eagerness" in value:
            raise ValueError("turn_detection.eagerness is unsupported for server_vad")
        if "threshold" in value:
            threshold = value["threshold"]
            if (
                isinstance(threshold, bool)
                or not isinstance(threshold, int | float)
                or not math.isfinite(threshold)
                or not 0 <= threshold <= 1
            ):
                raise ValueError("turn_detection.threshold must be a finite number between 0 and 1")
        for key in _DURATIONS:
            if key in value:
                item = value[key]
                if isinstance(item, bool) or not isinstance(item, int) or item < 0:
                    raise ValueError(f"turn_detection.{key} must be a non-negative integer")
        return {**SERVER_VAD_DEFAULTS, **value}
    for key in ("threshold", *_DURATIONS):
        if key in value:
            raise ValueError(f"turn_detection.{key} is unsupported for semantic_vad")
    if "eagerness" in value and value["eagerness"] not in _EAGERNESS:
        raise ValueError("turn_detection.eagerness must be auto, low, medium, or high")
    return {**SEMANTIC_VAD_DEFAULTS, **value}
