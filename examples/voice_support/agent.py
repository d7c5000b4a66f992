"""Voice support: voice sessions on one node, the support reasoners on another.

- ``voice`` (webrtc, relay media): a session handler takes each turn, asks
  ``support.resolve_voice_turn`` and speaks its answer.
- ``voice_direct`` (webrtc, direct media): the browser's audio goes straight to the provider;
  the realtime model itself calls ``support.order_status``, which the control plane runs as
  an execution of the session over the call's sideband.

Run it beside a control plane (``make run`` does both):

    AGENTFIELD_SERVER=http://127.0.0.1:8000 AGENTFIELD_API_KEY=<key of voice-support-af> \\
    SUPPORT_AGENTFIELD_API_KEY=<key of support> python examples/voice_support/agent.py

``SUPPORT_AGENTFIELD_API_KEY`` falls back to ``AGENTFIELD_API_KEY`` (one key not bound to a
node can register both). ``VOICE_TRANSPORT=websocket`` also declares ``voice_websocket``:
the same handler over the WebSocket transport, for server-side clients.
"""

from __future__ import annotations

import os
import re
from typing import Any

from text_to_num import alpha2digit

import agentfield
from agentfield import Agent

app = Agent(node_id="voice-support-af")


@app.session(
    "voice",
    provider="openai",
    model="gpt-realtime-2",
    transport="webrtc",
    modalities=["audio", "text"],
    voice="marin",
    tools=["support.resolve_voice_turn"],
    tags=["support:voice", "pii:limited"],
)
async def voice(session):
    """One turn; the next turn runs it again (returning does not hang up), until goodbye."""
    turn = await session.input()
    result = await session.call("support.resolve_voice_turn", turn=turn)
    await session.say(result["spoken_response"])
    if result["intent"] == "goodbye":
        await session.end("the caller said goodbye")


# Model-driven, direct media: no handler; the model calls the tool and speaks its answer.
app.declare_session(
    "voice_direct",
    provider="openai",
    model="gpt-realtime-2",
    transport="webrtc",
    media="direct",
    modalities=["audio", "text"],
    voice="marin",
    tools=["support.order_status"],
    tags=["support:voice", "pii:limited"],
    instructions=(
        "You are a friendly voice support agent for an online shop. Whenever the caller asks"
        " about an order, call the order_status tool with the caller's question as it was"
        " asked, then say the tool's spoken_response to the caller, word for word. Do not"
        " guess an order's status yourself."
    ),
)

if os.environ.get("VOICE_TRANSPORT", "webrtc") == "websocket":
    app.session(
        "voice_websocket",
        provider="openai",
        model="gpt-realtime-2",
        transport="websocket",
        modalities=["audio", "text"],
        voice="marin",
        tools=["support.resolve_voice_turn"],
        tags=["support:voice", "pii:limited"],
    )(voice)


support = Agent(node_id="support", api_key=os.environ.get("SUPPORT_AGENTFIELD_API_KEY") or None)

ORDERS: dict[str, dict[str, str]] = {
    "1042": {
        "status": "shipped",
        "carrier": "UPS",
        "eta": "Friday",
        "item": "noise-cancelling headphones",
    },
    "2077": {"status": "processing", "eta": "next Tuesday", "item": "a standing desk"},
    "3150": {"status": "delivered", "delivered": "Monday", "item": "a coffee grinder"},
    "4821": {"status": "cancelled", "refund": "3 to 5 business days", "item": "a tablet stand"},
}
ORDER_NUMBER = re.compile(r"\b(\d{4,8})\b")
DIGIT_GROUPS = re.compile(r"\d+(?:\s+\d+)+")  # "10 42", "1 04 2": one number said in parts
GOODBYE = re.compile(r"\b(bye|goodbye|that's all|that is all)\b", re.IGNORECASE)


def _spoken_status(number: str, order: dict[str, str]) -> str:
    item, status = order["item"], order["status"]
    if status == "shipped":
        return (
            f"Order {number}, {item}, shipped with {order['carrier']} "
            f"and should arrive on {order['eta']}."
        )
    if status == "processing":
        return f"Order {number}, {item}, is being prepared and should ship by {order['eta']}."
    if status == "delivered":
        return f"Order {number}, {item}, was delivered on {order['delivered']}."
    return f"Order {number}, {item}, was cancelled. Your refund arrives within {order['refund']}."


def spoken_numbers(text: str) -> str:
    """``text`` with its numbers as digits, however they were said: "order one zero four
    two", "ten forty two", "one thousand forty two" and "1042" all read as 1042.

    ``text2num`` turns number words into digits ("one zero four two" -> "1 04 2", "ten forty
    two" -> "10 42"); digit groups next to each other are then one number said in parts."""
    digits = alpha2digit(text, "en")
    return DIGIT_GROUPS.sub(lambda m: "".join(m.group().split()), digits)


def answer(text: str) -> dict[str, Any]:
    """The answer to what a caller said: the order number it mentions, looked up."""
    match = ORDER_NUMBER.search(spoken_numbers(text))
    if match is None and GOODBYE.search(text):
        return {
            "spoken_response": "Thanks for calling. Goodbye!",
            "intent": "goodbye",
            "order_number": None,
            "order_status": None,
        }
    if match is None:
        return {
            "spoken_response": "I can help with your order. What is the order number?",
            "intent": "ask_order_number",
            "order_number": None,
            "order_status": None,
        }
    number = match.group(1)
    order = ORDERS.get(number)
    if order is None:
        return {
            "spoken_response": f"I could not find order {number}. Could you check the number?",
            "intent": "order_not_found",
            "order_number": number,
            "order_status": None,
        }
    return {
        "spoken_response": _spoken_status(number, order),
        "intent": "order_status",
        "order_number": number,
        "order_status": order["status"],
    }


@support.reasoner(tags=["support"])
async def resolve_voice_turn(turn: dict) -> dict[str, Any]:
    """Answer one caller turn: look up the order number it mentions."""
    result = answer(str(turn.get("text") or ""))
    if result["intent"] == "order_status":
        result["turn_id"] = turn.get("turn_id")
    return result


@support.reasoner(tags=["support"])
async def order_status(question: str) -> dict[str, Any]:
    """Look up the status of the order a caller's question mentions (its order number).

    Returns ``spoken_response``, the answer to say to the caller, with the order's details.
    """
    return answer(question)


if __name__ == "__main__":
    agentfield.run(app, support)
