"""The scripted "model" both protocols share: what a response says or which tool it calls,
with which arguments, and how spoken text is spread over the audio chunks."""

from __future__ import annotations

import json
import re
from typing import Any

# A response whose instructions (OpenAI) or user text (OpenRouter) start with this is spoken
# verbatim: the adapters' ``say``.
SAY_PREFIX = "Say exactly the following text, word for word, and nothing else:\n"
NO_USER_TURN_REPLY = "Hello from the provider simulator."


def mentions(transcript: str, tool_name: str, *, loosely: bool = False) -> bool:
    """Whether a transcript names a tool, as-is or with underscores read as spaces.

    ``loosely`` (a simulator that hears real speech: ``make run``): one word of the name
    of four letters or more is enough, so "where is my order 1042" calls ``order_status``
    the way a real model would; scripted tests keep the exact rule."""
    text, name = transcript.lower(), tool_name.lower()
    if not name:
        return False
    if name in text or name.replace("_", " ") in text:
        return True
    spoken = set(re.findall(r"[a-z0-9]+", text))
    return loosely and any(len(w) >= 4 and w in spoken for w in re.split(r"[^a-z0-9]+", name))


def tool_arguments(tool: dict[str, Any], transcript: str) -> dict[str, Any]:
    """Arguments for a call: the transcript in the first required (else first) string property."""
    schema = tool.get("parameters") if isinstance(tool.get("parameters"), dict) else {}
    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    strings = [
        name
        for name, spec in properties.items()
        if isinstance(spec, dict) and spec.get("type") == "string"
    ]
    required = schema.get("required") if isinstance(schema.get("required"), list) else []
    for name in [*(r for r in required if r in strings), *strings]:
        return {name: transcript}
    return {"text": transcript}


def reply_for_tool_output(output: str) -> str:
    """What to say after a function result: its ``spoken_response``, else a summary."""
    try:
        parsed = json.loads(output)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("spoken_response"), str):
        return parsed["spoken_response"]
    return f"The tool returned: {output[:200]}"


def transcript_deltas(text: str, chunk_count: int) -> dict[int, list[str]]:
    """Spread the words of ``text`` over the audio chunks: {chunk index: [deltas]}.

    Deltas concatenate back to ``text`` exactly (whitespace stays attached to its word).
    """
    pieces: list[str] = []
    for word in text.split(" "):
        pieces.append(word if not pieces else " " + word)
    pieces = [p for p in pieces if p] or ([text] if text else [])
    slots: dict[int, list[str]] = {}
    last = max(0, chunk_count - 1)
    for i, piece in enumerate(pieces):
        slot = min(last, i * max(1, chunk_count) // max(1, len(pieces)))
        slots.setdefault(slot, []).append(piece)
    return slots
