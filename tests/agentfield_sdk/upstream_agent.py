"""An agent written for upstream AgentField, run with the published SDK (PyPI ``agentfield``
0.1.144, installed by the test in its own virtual environment), unchanged.

Environment: ``AGENTFIELD_SERVER``, ``AGENTFIELD_API_KEY``, ``PORT`` (loopback only).
"""

import os

from agentfield import Agent

port = int(os.environ["PORT"])
app = Agent(
    node_id="upstream-support",
    agentfield_server=os.environ["AGENTFIELD_SERVER"],
    api_key=os.environ["AGENTFIELD_API_KEY"],
    callback_url=f"http://127.0.0.1:{port}",
)


@app.reasoner(tags=["support"])
async def resolve_voice_turn(turn: dict) -> dict:
    return {"spoken_response": f"Upstream heard: {turn['text']}"}


if __name__ == "__main__":
    app.serve(port=port, host="127.0.0.1")
