"""The realtime session object: its defaults, ``session.update``, and the VAD settings it
carries (``audio.input.turn_detection``)."""

from __future__ import annotations

import copy
import time
from typing import Any

from provider_simulator import audio
from provider_simulator.openai_realtime.wire import ClientEventError, RealtimeWire

DEFAULT_MODEL = "gpt-realtime"
DEFAULT_VOICE = "marin"
DEFAULT_INSTRUCTIONS = "You are a helpful, concise voice assistant."
PCM_FORMAT = {"type": "audio/pcm", "rate": audio.SAMPLE_RATE}
SERVER_VAD_DEFAULTS: dict[str, Any] = {
    "type": "server_vad",
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 500,
    "idle_timeout_ms": None,
    "create_response": True,
    "interrupt_response": True,
}
SEMANTIC_VAD_DEFAULTS: dict[str, Any] = {
    "type": "semantic_vad",
    "eagerness": "auto",
    "create_response": True,
    "interrupt_response": True,
}
# semantic_vad is simulated with the energy VAD; eagerness only sets the silence needed.
EAGERNESS_SILENCE_MS = {"low": 1000, "medium": 500, "auto": 500, "high": 300}


def default_session(model: str, session_id: str) -> dict[str, Any]:
    """The session object sent in ``session.created``."""
    return {
        "type": "realtime",
        "object": "realtime.session",
        "id": session_id,
        "model": model,
        "output_modalities": ["audio"],
        "instructions": DEFAULT_INSTRUCTIONS,
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "tracing": None,
        "truncation": "auto",
        "prompt": None,
        "include": None,
        "expires_at": int(time.time()) + 3600,
        "audio": {
            "input": {
                "format": dict(PCM_FORMAT),
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": dict(SERVER_VAD_DEFAULTS),
            },
            "output": {"format": dict(PCM_FORMAT), "voice": DEFAULT_VOICE, "speed": 1.0},
        },
    }


def merge_session(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge ``patch`` into a copy of ``base``; lists, nulls and turn_detection replace."""
    merged = copy.deepcopy(base)
    for key, value in patch.items():
        if key == "turn_detection":
            merged[key] = normalize_turn_detection(value)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_session(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def normalize_turn_detection(value: Any) -> dict[str, Any] | None:
    """Fill defaults for a turn_detection object; ``None`` (manual turns) stays ``None``."""
    if not isinstance(value, dict):
        return None
    defaults = SEMANTIC_VAD_DEFAULTS if value.get("type") == "semantic_vad" else SERVER_VAD_DEFAULTS
    return {**defaults, **value}


def validate_session_patch(patch: Any) -> None:
    """What ``session.update`` (and a call's ``session`` part) must be: ``ClientEventError``."""
    if not isinstance(patch, dict):
        raise ClientEventError("Missing required parameter: 'session'.", param="session")
    if "type" not in patch:
        raise ClientEventError("Missing required parameter: 'session.type'.", param="session.type")
    if patch["type"] != "realtime":
        raise ClientEventError(
            f"Invalid value: {patch['type']!r}. Supported values are: 'realtime'.",
            param="session.type",
        )
    if "tools" in patch and not isinstance(patch["tools"], list):
        raise ClientEventError(
            "Invalid type for 'session.tools': expected an array.", param="session.tools"
        )
    if "model" in patch and not isinstance(patch["model"], str):
        raise ClientEventError(
            "Invalid type for 'session.model': expected a string.", param="session.model"
        )


class SessionConfig(RealtimeWire):
    """``session.update`` and what the session's turn detection means for the VAD."""

    @property
    def turn_detection(self) -> dict[str, Any] | None:
        audio_config = self.session.get("audio")
        inputs = audio_config.get("input") if isinstance(audio_config, dict) else None
        value = inputs.get("turn_detection") if isinstance(inputs, dict) else None
        return value if isinstance(value, dict) else None

    def _configure_vad(self) -> None:
        td = self.turn_detection or {}
        silence = td.get("silence_duration_ms")
        if td.get("type") == "semantic_vad":
            silence = EAGERNESS_SILENCE_MS.get(str(td.get("eagerness")), 500)
        threshold = td.get("threshold", 0.5)
        self.vad.configure(
            threshold if isinstance(threshold, int | float) else 0.5,
            silence if isinstance(silence, int) and silence > 0 else 500,
        )

    async def _on_session_update(self, event: dict[str, Any]) -> None:
        patch = event.get("session")
        validate_session_patch(patch)
        merged = merge_session(self.session, patch)
        merged["id"], merged["object"] = self.session["id"], self.session["object"]
        self.session = merged
        self._configure_vad()
        if self.turn_detection is None:
            self.vad.reset_speech()
            self.speech_item_id = None
        await self.send({"type": "session.updated", "session": copy.deepcopy(self.session)})
