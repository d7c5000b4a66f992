"""What an agent node answers, checked before it is stored.

An agent's result is a JSON value the control plane keeps (jsonb on PostgreSQL) and renders
again to callers. Four things cannot take that path: NUL characters (PostgreSQL refuses them
in text and jsonb), lone surrogates (not encodable as UTF-8), non-finite numbers (not JSON)
and nesting deeper than the JSON readers accept. Such an answer fails the execution with
``agent_error`` and a message naming the reason; it never reaches the database.
"""

from __future__ import annotations

import json
import math
from typing import Any

from access_app.parsers import MAX_JSON_DEPTH


class UnstorableAnswer(ValueError):
    """The agent's answer cannot be stored; the message says why."""


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return "a string contains NUL (\\u0000)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "a string contains a lone surrogate"
    return None


def unstorable_reason(value: Any, *, max_depth: int = MAX_JSON_DEPTH) -> str | None:
    """Why ``value`` cannot be stored and rendered as JSON, or None when it can."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            problem = _text_problem(item)
            if problem:
                return problem
        elif isinstance(item, float):
            if not math.isfinite(item):
                return "a number is not finite (NaN or Infinity)"
        elif isinstance(item, dict | list):
            if depth > max_depth:
                return f"it nests deeper than {max_depth} levels"
            if isinstance(item, dict):
                for key, inner in item.items():
                    problem = _text_problem(key) if isinstance(key, str) else None
                    if problem:
                        return problem.replace("a string", "a key")
                    stack.append((inner, depth + 1))
            else:
                stack.extend((inner, depth + 1) for inner in item)
    return None


def answer_check(value: Any, *, what: str = "the agent's answer") -> Any:
    """``value`` if it can be stored, else :class:`UnstorableAnswer`."""
    problem = unstorable_reason(value)
    if problem:
        raise UnstorableAnswer(f"{what} cannot be stored: {problem}")
    return value


def answer_loads(content: bytes) -> Any:
    """The JSON value of an agent's response body, checked; ``ValueError`` if not JSON.

    Deeper nesting than Python's recursion allows is an :class:`UnstorableAnswer` too.
    """
    try:
        value = json.loads(content)
    except RecursionError:
        raise UnstorableAnswer(
            f"the agent's answer cannot be stored: it nests deeper than {MAX_JSON_DEPTH} levels"
        ) from None
    return answer_check(value)


def safe_text(text: str) -> str:
    """Agent-written text for an error message: NUL and lone surrogates replaced."""
    return text.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")
