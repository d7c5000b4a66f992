"""The environment ``make run`` gives its children: every provider without an API key
pointed at the local provider simulator, and loopback WebRTC candidates on loopback."""

from __future__ import annotations

import os

from django.conf import settings

PROVIDERS = [("OpenAI", "OPENAI"), ("OpenRouter", "OPENROUTER")]  # (name, settings prefix)


def simulated_providers() -> list[tuple[str, str]]:
    """(provider, settings prefix) of every provider without a key."""
    return [
        (name, prefix) for name, prefix in PROVIDERS if not getattr(settings, f"{prefix}_API_KEY")
    ]


def simulator_env(port: int) -> dict[str, str]:
    """Points each provider without a key at the local provider simulator."""
    env = {}
    for _, prefix in simulated_providers():
        env.update(
            {f"{prefix}_API_KEY": "simulator", f"{prefix}_BASE_URL": f"http://127.0.0.1:{port}/v1"}
        )
    return env


def webrtc_env(host: str) -> dict[str, str]:
    """On loopback, WebRTC peers offer 127.0.0.1 (aioice never offers loopback by itself)."""
    if os.environ.get("AGENTFIELD_WEBRTC_ICE_HOSTS") or host not in ("127.0.0.1", "localhost"):
        return {}
    return {"AGENTFIELD_WEBRTC_ICE_HOSTS": "127.0.0.1"}


def provider_line(simulator_port: int | None) -> str:
    """The banner's ``Provider`` line."""
    if simulator_port is None:
        return "OpenAI and OpenRouter (their API keys are set)"
    names = " and ".join(name for name, _ in simulated_providers())
    keys = " and ".join(f"{prefix}_API_KEY" for _, prefix in simulated_providers())
    url = f"http://127.0.0.1:{simulator_port}/v1"
    return f"provider simulator at {url} for {names} (set {keys} to use the real ones)"
