"""JSON from untrusted clients, for the REST routes and the WebSocket consumers alike.

Plain ``json.loads`` accepts two things the rest of the stack cannot take: NUL characters
(PostgreSQL refuses them in text and jsonb) and nesting deep enough to exhaust Python's
recursion limit. Both are refused here, as a client mistake, before any view sees them.
"""

from __future__ import annotations

import json
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_JSON_DEPTH = 64


class UntrustedJSONError(ValueError):
    """The text is not JSON we accept; the message says why, for the client."""


def check_untrusted(value: Any, *, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Refuse NUL characters in any string or key, and nesting beyond ``max_depth``."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise UntrustedJSONError("strings may not contain NUL (\\u0000) characters")
            continue
        if not isinstance(item, dict | list):
            continue
        if depth > max_depth:
            raise UntrustedJSONError(f"JSON may nest at most {max_depth} levels deep")
        if isinstance(item, dict):
            for key, inner in item.items():
                if "\x00" in key:
                    raise UntrustedJSONError("keys may not contain NUL (\\u0000) characters")
                stack.append((inner, depth + 1))
        else:
            stack.extend((inner, depth + 1) for inner in item)


def _refuse_constant(name: str) -> None:
    raise UntrustedJSONError(f"{name} is not valid JSON")


def loads_untrusted(text: str | bytes) -> Any:
    """``json.loads`` for client input: raises :class:`UntrustedJSONError`, nothing else."""
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise UntrustedJSONError(f"JSON may nest at most {MAX_JSON_DEPTH} levels deep") from None
    except UntrustedJSONError:
        raise
    except ValueError as exc:
        raise UntrustedJSONError(f"not valid JSON: {exc}") from None
    check_untrusted(value)
    return value


class StrictJSONParser(JSONParser):
    """DRF's JSON parser, plus the checks above (a 400 ``parse_error``, never a 500)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(
                f"JSON parse error - JSON may nest at most {MAX_JSON_DEPTH} levels deep"
            ) from None
        try:
            check_untrusted(data)
        except UntrustedJSONError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        return data
