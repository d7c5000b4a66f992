"""One provider/transport matrix for every SDK: the TypeScript SDK's tables, normalization
and messages must be the control plane's (``agentfield/contract/``: ``matrix.py``,
``media.py``, ``definition.py``, ``turn_detection.py``), case for case, byte for byte."""

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
from agentfield.contract.media import SUPPORTED_SESSION_MEDIA, validate_session_media
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
    {**VOICE, "media": "direct"},
    {**VOICE, "media": " Relay "},
    {**VOICE, "media": ""},
    {**VOICE, "media": None},
    {**VOICE, "media": "sip"},
    {**VOICE, "media": "sip", "turn_detection": "server_vad"},  # media is checked first
    {"name": "ws", "provider": "openai", "transport": "websocket", "media": "direct"},
    {"name": "ws", "provider": "openai", "transport": "websocket", "media": "relay"},
    {"name": "t", "provider": "openrouter", "transport": "audio_turns", "media": "Direct"},
    {"name": "t", "provider": "openrouter", "transport": "audio_turns", "media": "peer"},
    {"name": "v", "provider": "openrouter", "transport": "webrtc", "media": "direct"},
]
# [media, provider, transport, table]: provider and transport already normalized; table
# None is the contract's. Past the contract's defaults: what a deployment's table decides.
RELAY_ONLY = {"openai": ["relay"]}
CUSTOM_WEBRTC = {"openai": ["direct", "relay"], "custom": ["relay"]}
MEDIA: list[list[Any]] = [
    ["direct", "openai", "webrtc", None],
    ["", "openai", "webrtc", None],
    ["RELAY", "openai", "webrtc", None],
    ["direct", "custom", "webrtc", None],
    ["relay", "custom", "webrtc", None],
    ["direct", "openai", "webrtc", RELAY_ONLY],
    ["relay", "openai", "webrtc", RELAY_ONLY],
    ["direct", "custom", "webrtc", CUSTOM_WEBRTC],
    ["direct", "openai", "webrtc", {"openai": []}],
    ["relay", "openai", "webrtc", {"openai": []}],
    ["direct", "openai", "websocket", RELAY_ONLY],
    ["p2p", "openai", "websocket", None],
    ["di-rect", "openai", "webrtc", None],
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


def media_outcome(media: Any, provider: str, transport: str, table: Any) -> dict[str, Any]:
    return python_outcome(validate_session_media, media, provider, transport, table)


def typescript_outcomes() -> dict[str, Any]:
    media = [dict(zip(("media", "provider", "transport", "table"), c, strict=True)) for c in MEDIA]
    cases = json.dumps({"pairs": PAIRS, "definitions": DEFINITIONS, "media": media})
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


def test_the_typescript_media_table_and_messages_are_the_control_planes(typescript_sdk):
    typescript = typescript_outcomes()
    assert typescript["mediaTable"] == {k: list(v) for k, v in SUPPORTED_SESSION_MEDIA.items()}
    for case, theirs in zip(MEDIA, typescript["media"], strict=True):
        assert theirs == media_outcome(*case), case
    messages = {o["error"] for o in typescript["media"] if "error" in o}
    for start in MEDIA_MESSAGES:  # the cases reach every media rule
        assert any(message.startswith(start) for message in messages), start


MEDIA_MESSAGES = (
    "Unknown session media ",
    "Session media applies to transport 'webrtc' only",
    "Unsupported session media 'direct' for provider 'custom'. Supported media: relay.",
    "This control plane has direct media turned off. Supported media for provider 'openai': relay.",
    "This control plane has direct media turned off. Supported media for provider 'openai': none.",
)
