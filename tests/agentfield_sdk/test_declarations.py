"""Declaring reasoners, skills and sessions: validation, schemas, the registration body."""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Literal

import pytest

from agentfield import Agent, SessionTransportError, SessionTurn
from agentfield.control_plane import call_input
from agentfield.schema import input_schema, type_schema

VOICE = {
    "provider": "openai",
    "model": "gpt-realtime-2",
    "transport": "webrtc",
    "modalities": ["audio", "text"],
    "voice": "marin",
    "tools": ["support.resolve_voice_turn"],
    "tags": ["support:voice", "pii:limited"],
}


@pytest.fixture
def app(monkeypatch) -> Agent:
    monkeypatch.delenv("AGENTFIELD_SERVER", raising=False)
    monkeypatch.delenv("AGENTFIELD_API_KEY", raising=False)
    return Agent(node_id="voice-support-af", api_key="af_x")


@pytest.mark.parametrize(
    ("provider", "transport", "message"),
    [
        ("", "webrtc", "Session provider is required; AgentField does not infer providers."),
        ("openai", " ", "Session transport is required; AgentField does not infer transports."),
        (
            "custom",
            "webrtc",
            "Unknown session provider 'custom'. Known providers: openai, openrouter. "
            "Register provider capabilities before using a custom session provider.",
        ),
        (
            "openrouter",
            "webrtc",
            "Unsupported session transport 'webrtc' for provider 'openrouter'. Supported "
            "transports: audio_turns. AgentField does not infer or switch providers; set "
            "provider and transport explicitly.",
        ),
    ],
)
def test_a_bad_provider_or_transport_fails_at_declaration_with_upstreams_message(
    app, provider, transport, message
):
    with pytest.raises(ValueError) as raised:
        app.session("voice", provider=provider, transport=transport)
    assert str(raised.value) == message
    assert not app.sessions


def test_an_unsupported_pair_raises_session_transport_error(app):
    with pytest.raises(SessionTransportError) as raised:
        app.session("voice", provider=" OpenAI ", transport="Audio-Turns")
    assert (raised.value.provider, raised.value.transport) == ("openai", "audio_turns")


def test_a_bad_turn_detection_fails_at_declaration(app):
    with pytest.raises(ValueError, match="turn_detection"):
        app.session("voice", provider="openrouter", transport="audio_turns",
                     turn_detection={"type": "server_vad"})  # fmt: skip


def test_media_is_relay_by_default_direct_when_declared_and_empty_off_webrtc(app):
    app.declare_session("voice", **VOICE)
    app.declare_session("direct", **VOICE, media=" Direct ")
    app.declare_session("chat", provider="openai", transport="websocket", media="relay")
    assert [s["media"] for s in app.sessions] == ["relay", "direct", ""]
    assert app.registration_payload()["sessions"][1]["media"] == "direct"


@pytest.mark.parametrize(
    ("transport", "media", "message"),
    [
        (
            "webrtc",
            "p2p",
            "Unknown session media 'p2p'. Known media: direct, relay. AgentField does not "
            "infer media; set media explicitly.",
        ),
        (
            "websocket",
            "direct",
            "Session media applies to transport 'webrtc' only; transport 'websocket' always "
            "carries its media through the control plane. Leave media out or set it to relay.",
        ),
    ],
)
def test_a_bad_media_fails_at_declaration(app, transport, media, message):
    with pytest.raises(ValueError) as raised:
        app.declare_session("voice", provider="openai", transport=transport, media=media)
    assert str(raised.value) == message
    assert not app.sessions


def test_direct_media_for_a_provider_that_relays_only_fails_at_declaration(monkeypatch):
    monkeypatch.delenv("AGENTFIELD_SERVER", raising=False)
    app = Agent(node_id="n", api_key="af_x", session_capabilities={"custom": ("webrtc",)})
    app.declare_session("relayed", provider="custom", transport="webrtc")
    with pytest.raises(ValueError) as raised:
        app.declare_session("voice", provider="custom", transport="webrtc", media="direct")
    assert str(raised.value) == (
        "Unsupported session media 'direct' for provider 'custom'. Supported media: relay. "
        "AgentField does not infer media; set media explicitly."
    )
    assert [s["media"] for s in app.sessions] == ["relay"]


def test_the_issue_example_declares_a_handler_session(app):
    @app.session("voice", **VOICE)
    async def voice(session):
        await session.say("hi")

    [session] = app.sessions
    assert session["handler"] is True
    assert session["provider"] == "openai" and session["transport"] == "webrtc"
    assert session["media"] == "relay"  # the default: through the control plane
    assert session["tags"] == session["proposed_tags"] == ["pii:limited", "support:voice"]
    assert session["approved_tags"] == []
    assert session["tools"] == ["support.resolve_voice_turn"]
    assert session["turn_detection"]["type"] == "server_vad"  # upstream's default
    assert voice._agentfield_session["name"] == "voice"


def test_a_session_handler_must_be_async_and_names_are_unique(app):
    with pytest.raises(TypeError, match="async"):

        @app.session("voice", **VOICE)
        def voice(session):
            pass

    app.declare_session("voice", **VOICE)
    with pytest.raises(ValueError, match="already declares"):
        app.declare_session("voice", **VOICE)
    assert app.sessions[0]["handler"] is False


def test_reasoners_and_skills_register_with_schemas_from_type_hints(app):
    @app.reasoner
    async def plain(turn: dict):
        """Resolve one turn.

        More words."""

    @app.reasoner("named", tags=["Support"], description="explicit")
    def named(order: str, count: int = 1, mode: Literal["a", "b"] = "a") -> dict[str, Any]:
        return {}

    @app.skill()
    def lookup(ids: list[int], note: str | None = None, **extra: Any) -> list[str]:
        return []

    plain_reg, named_reg = app.reasoners
    assert plain_reg["id"] == "plain"
    assert plain_reg["description"] == "Resolve one turn."
    assert plain_reg["input_schema"] == {
        "type": "object",
        "properties": {"turn": {"type": "object"}},
        "required": ["turn"],
        "additionalProperties": False,
    }
    assert named_reg["id"] == "named" and named_reg["tags"] == ["Support"]
    assert named_reg["description"] == "explicit"
    assert named_reg["input_schema"]["properties"] == {
        "order": {"type": "string"},
        "count": {"type": "integer", "default": 1},
        "mode": {"enum": ["a", "b"], "default": "a"},
    }
    assert named_reg["output_schema"] == {"type": "object"}
    [skill] = app.skills
    assert skill["input_schema"] == {
        "type": "object",
        "properties": {
            "ids": {"type": "array", "items": {"type": "integer"}},
            "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
        },
        "required": ["ids"],
    }
    with pytest.raises(ValueError, match="already declares"):
        app.skill("named")(named)
    with pytest.raises(ValueError, match="no dots"):
        app.reasoner("a.b")(named)


def test_schemas_cover_dataclasses_and_unknown_types():
    @dataclasses.dataclass
    class Order:
        number: str
        lines: list[str] = dataclasses.field(default_factory=list)

    assert type_schema(Order) == {
        "type": "object",
        "properties": {
            "number": {"type": "string"},
            "lines": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["number"],
    }
    assert type_schema(object) == {} and type_schema(Any) == {}

    def untyped(a, b=2):
        pass

    assert input_schema(untyped)["required"] == ["a"]


def test_the_registration_body_carries_sessions_in_both_places(app):
    app.tags = ["team:support"]

    @app.session("voice", **VOICE)
    async def voice(session):
        pass

    app.base_url = "http://127.0.0.1:9999"
    body = app.registration_payload()
    assert body["id"] == "voice-support-af"
    assert body["base_url"] == "http://127.0.0.1:9999"
    assert body["proposed_tags"] == ["team:support"]
    assert body["sessions"] == body["metadata"]["custom"]["sessions"] == app.sessions
    json.dumps(body)


def test_upstream_constructor_keywords_and_environment(monkeypatch):
    monkeypatch.setenv("AGENTFIELD_SERVER", "http://127.0.0.1:7000/")
    monkeypatch.setenv("AGENTFIELD_API_KEY", "af_env")
    from_env = Agent("n1")
    assert from_env.server == "http://127.0.0.1:7000"
    upstream = Agent(
        "n2",
        agentfield_server="http://127.0.0.1:7001",
        callback_url="http://127.0.0.1:7002",
        version="2.0.0",
        tags=["a"],
        dev_mode=True,
    )
    assert upstream.server == "http://127.0.0.1:7001"
    assert (upstream.callback_url, upstream.version, upstream.tags) == (
        "http://127.0.0.1:7002",
        "2.0.0",
        ["a"],
    )
    assert Agent("n3", server="http://127.0.0.1:7003").server == "http://127.0.0.1:7003"
    with pytest.raises(ValueError):
        Agent("bad.node")


def test_a_turn_is_a_json_dict_with_attributes():
    turn = SessionTurn.from_message(
        {"text": "order 1042", "modality": "audio", "audio_ms": 800, "turn_id": "turn_1"}
    )
    assert (turn.text, turn.modality, turn.audio_ms, turn.turn_id) == (
        "order 1042",
        "audio",
        800,
        "turn_1",
    )
    assert call_input(None, {"turn": turn}) == {"turn": dict(turn)}
    assert json.loads(json.dumps({"turn": turn}))["turn"]["text"] == "order 1042"

    @dataclasses.dataclass
    class Note:
        text: str

    assert call_input({"a": 1}, {"note": Note("x")}) == {"a": 1, "note": {"text": "x"}}
    with pytest.raises(TypeError):
        call_input(["not", "a", "mapping"], {})  # type: ignore[arg-type]
