"""The product brief's tools-less session example ("What `tools` means"), as a node process.

``voice`` is the brief's example verbatim: declared without ``tools``, its handler calls a
reasoner of another node with ``session.call``. ``voice_app_call`` is the same with
``app.call``, which carries the session id from inside a handler too. ``support`` answers.
"""

from __future__ import annotations

import os

import agentfield
from agentfield import Agent

app = Agent(node_id="brief-voice")


# --- the product brief, verbatim ----------------------------------------------------------
@app.session("voice", provider="openai", transport="webrtc")
async def voice(session):
    turn = await session.input()
    result = await session.call("support.resolve_voice_turn", turn=turn)
    await session.say(result["spoken_response"])


# ------------------------------------------------------------------------------------------


@app.session("voice_app_call", provider="openai", transport="webrtc")
async def voice_app_call(session):
    turn = await session.input()
    result = await app.call("support.resolve_voice_turn", turn=turn)
    await session.say(result["spoken_response"])


support = Agent(node_id="support", api_key=os.environ.get("SUPPORT_AGENTFIELD_API_KEY") or None)


@support.reasoner(tags=["support"])
async def resolve_voice_turn(turn: dict) -> dict:
    return {"spoken_response": f"Support heard: {turn['text']}"}


if __name__ == "__main__":
    agentfield.run(app, support)
