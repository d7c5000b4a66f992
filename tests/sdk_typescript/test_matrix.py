"""One provider/transport matrix for every SDK: the TypeScript SDK's table, normalization
and messages must be the control plane's (``agentfield/contract/``: ``matrix.py``,
``definition.py``, ``turn_detection.py``), case for case, byte for byte."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from agentfield.contract.definition import normalize_session_definition
from agentfield.contract.matrix import (
    SUPPORTED_SESSION_TRANSPORTS,
    SessionTransportError,
    validate_session_transport,
)
from tests.sdk_typescript.node import BUILT, node_env

PROVIDERS = ["openai", "OpenAI", " openrouter ", "custom", "", None, "open-ai", "openrouter"]
TRANSPORTS = ["webrtc", "WebRTC", "websocket", "audio_turns", "audio-turns", "", None, "sip"]
PAIRS = [[p, t] for p in PROVIDERS for t in TRANSPORTS]

VOICE = {"name": "voice", "provider": "openai", "transport": "webrtc"}
TURN_DETECTIONS: list[Any] = [
    None,
    {"type": "server_vad"},
    {"type": "server_vad", "threshold": 0, "silence_duration_ms": 0, "create_response": False},
    {"type": "semantic_vad", "eagerness": "low"},
    {"type": "semantic_vad", "eagerness": "eager"},
    {"type": "semantic_vad", "threshold": 0.5},
    {"type": "server_vad", "eagerness": "auto"},
    {"type": "server_vad", "threshold": 2},
    {"type": "server_vad", "prefix_padding_ms": -1},
    {"type": "server_vad", "create_response": "yes"},
    {"type": "server_vad", "Type": "server_vad"},
    {"type": "server_vad", "threshold": None},
    {"type": "vad"},
    {},
    "server_vad",
    [],
]
DEFINITIONS: list[dict[str, Any]] = [
    *({**VOICE, "turn_detection": td} for td in TURN_DETECTIONS),
    {"name": "", "provider": "openai", "transport": "webrtc"},
    {"name": "turns", "provider": "openrouter", "transport": "audio_turns"},
    {"name": "turns", "provider": "openrouter", "transport": "audio_turns", "turn_detection": {}},
    {**VOICE, "tags": ["B", "a", " a ", ""], "tools": ["support.x", " "], "modalities": []},
    {**VOICE, "proposed_tags": ["Support"], "metadata": {"team": "x"}, "instructions": "Be brief."},
    {**VOICE, "tags": "support"},
    {**VOICE, "tools": [1]},
    {**VOICE, "metadata": ["x"]},
    {**VOICE, "instructions": 3},
    {**VOICE, "model": "gpt-realtime-2", "voice": "marin", "handler": True},
    {"name": "v", "provider": "openrouter", "transport": "webrtc"},
    {"name": "v", "provider": "custom", "transport": "webrtc"},
]


def python_outcome(work, *args: Any) -> dict[str, Any]:
    try:
        value = work(*args)
    except SessionTransportError as exc:
        return {"error": str(exc), "name": "SessionTransportError"}
    except ValueError as exc:
        return {"error": str(exc), "name": "Error"}
    if hasattr(value, "provider") and not isinstance(value, dict):
        value = {"provider": value.provider, "transport": value.transport}
    return {"ok": value}


def typescript_outcomes() -> dict[str, Any]:
    cases = json.dumps({"pairs": PAIRS, "definitions": DEFINITIONS})
    done = subprocess.run(
        ["node", str(BUILT / "nodes" / "matrix.js")],
        input=cases,
        capture_output=True,
        text=True,
        env=node_env(),
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_typescript_matrix_and_messages_are_the_control_planes(typescript_sdk):
    typescript = typescript_outcomes()
    assert typescript["table"] == {k: list(v) for k, v in SUPPORTED_SESSION_TRANSPORTS.items()}
    for (provider, transport), theirs in zip(PAIRS, typescript["pairs"], strict=True):
        ours = python_outcome(validate_session_transport, provider, transport)
        assert theirs == ours, (provider, transport)
    for raw, theirs in zip(DEFINITIONS, typescript["definitions"], strict=True):
        assert theirs == python_outcome(normalize_session_definition, raw), raw
    messages = {o.get("error") for o in typescript["pairs"] + typescript["definitions"]}
    assert len(messages) > 15  # the cases reach every message, not one over and over
