"""What an agent node answers, checked before it is stored.

An agent's result is a JSON value the control plane keeps (jsonb on PostgreSQL) and renders
again to callers. Four things cannot take that path: NUL characters (PostgreSQL refuses them
in text and jsonb), lone surrogates (not encodable as UTF-8), non-finite numbers (not JSON)
and nesting deeper than the JSON readers accept. Such an answer fails the execution with
``agent_error`` and a message naming the reason; it never reaches the database.
"""

from __future__ import annotations

import json
from typing import Any

from foundation.strict_json import MAX_JSON_DEPTH, UntrustedJSONError, check_untrusted


class UnstorableAnswer(ValueError):
    """The agent's answer cannot be stored; the message says why."""


def unstorable_reason(value: Any) -> str | None:
    """Why ``value`` cannot be stored and rendered as JSON, or None when it can: the strict
    reader's own checks (NUL, lone surrogates, non-finite numbers, depth)."""
    try:
        check_untrusted(value)
    except UntrustedJSONError as exc:
        return str(exc)
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
            "the agent's answer cannot be stored: "
            f"JSON may nest at most {MAX_JSON_DEPTH} levels deep"
        ) from None
    return answer_check(value)


def safe_text(text: str) -> str:
    """Agent-written text for an error message: NUL and lone surrogates replaced."""
    return text.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")
