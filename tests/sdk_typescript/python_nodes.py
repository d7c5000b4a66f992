"""Python SDK nodes the TypeScript SDK tests talk to, run as a real process.

``python python_nodes.py support``: node ``support`` with the reasoner the product brief's
TypeScript tab calls, ``resolveVoiceTurn`` (camelCase name and result keys, verbatim).
``python python_nodes.py voice``: node ``voice-py``, a session handler that asks the
TypeScript reasoner ``support-ts.resolveVoiceTurn`` and speaks its answer.
"""

from __future__ import annotations

import sys

import agentfield
from agentfield import Agent


def support_node() -> Agent:
    app = Agent(node_id="support")

    @app.reasoner("resolveVoiceTurn", tags=["support"])
    async def resolve_voice_turn(turn: dict) -> dict:
        return {"spokenResponse": f"Python heard: {turn['text']}", "turnId": turn["turn_id"]}

    return app


def voice_node() -> Agent:
    app = Agent(node_id="voice-py")

    @app.session(
        "voice",
        provider="openai",
        transport="websocket",
        tools=["support-ts.resolveVoiceTurn"],
        tags=["support:voice"],
    )
    async def voice(session):
        turn = await session.input()
        result = await session.call("support-ts.resolveVoiceTurn", turn=turn)
        await session.say(result["spokenResponse"])

    return app


if __name__ == "__main__":
    agentfield.run({"support": support_node, "voice": voice_node}[sys.argv[1]]())
