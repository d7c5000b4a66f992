"""The AgentField Python SDK: agent nodes with reasoners, skills and sessions.

It talks to the control plane over HTTP and WebSockets only, and never imports Django.

```python
from agentfield import Agent

app = Agent(node_id="voice-support-af")

@app.session("voice", provider="openai", transport="webrtc", tools=["support.resolve_voice_turn"])
async def voice(session):
    turn = await session.input()
    result = await session.call("support.resolve_voice_turn", turn=turn)
    await session.say(result["spoken_response"])

app.run()
```
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from agentfield.contract.matrix import (
    SUPPORTED_SESSION_TRANSPORTS,
    SessionTransportCapability,
    SessionTransportError,
    validate_session_transport,
)
from agentfield.contract.media import SUPPORTED_SESSION_MEDIA, validate_session_media

if TYPE_CHECKING:
    from agentfield.agent import Agent
    from agentfield.context import ExecutionContext, current_context
    from agentfield.errors import (
        AgentFieldError,
        ExecutionError,
        RegistrationRefused,
        SessionEnded,
    )
    from agentfield.runner import run, serve_all
    from agentfield.sessions import RealtimeSession, SessionTurn

# Loaded on first use, so the control plane can import the shared validation modules
# (agentfield.contract) without the SDK's HTTP and WebSocket stack.
_LAZY = {
    "Agent": "agentfield.agent",
    "ExecutionContext": "agentfield.context",
    "current_context": "agentfield.context",
    "AgentFieldError": "agentfield.errors",
    "ExecutionError": "agentfield.errors",
    "RegistrationRefused": "agentfield.errors",
    "SessionEnded": "agentfield.errors",
    "run": "agentfield.runner",
    "serve_all": "agentfield.runner",
    "RealtimeSession": "agentfield.sessions",
    "SessionTurn": "agentfield.sessions",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'agentfield' has no attribute {name!r}")


__version__ = "0.1.0"

__all__ = [
    "SUPPORTED_SESSION_MEDIA",
    "SUPPORTED_SESSION_TRANSPORTS",
    "Agent",
    "AgentFieldError",
    "ExecutionContext",
    "ExecutionError",
    "RealtimeSession",
    "RegistrationRefused",
    "SessionEnded",
    "SessionTransportCapability",
    "SessionTransportError",
    "SessionTurn",
    "current_context",
    "run",
    "serve_all",
    "validate_session_media",
    "validate_session_transport",
]
