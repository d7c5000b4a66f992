"""JSON from untrusted clients, for the REST routes and the WebSocket consumers alike.

Plain ``json.loads`` accepts things the rest of the stack cannot take: NUL characters
(PostgreSQL refuses them in text and jsonb), lone surrogates (``"\\ud800"``: not UTF-8, so
neither database nor any JSON we send can hold them), non-finite numbers (``NaN``,
``Infinity`` and overflowing literals such as ``1e999``, which are not JSON on the way out)
and nesting deep enough to exhaust Python's recursion limit. All are refused here, as a
client mistake, before any view or consumer sees them.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_JSON_DEPTH = 64
# NUL, and the UTF-16 surrogate range: json.loads pairs escaped surrogates into one
# character, so any left in a string were alone.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class UntrustedJSONError(ValueError):
    """The text is not JSON we accept; the message says why, for the client."""


def check_text(text: str, *, what: str = "strings") -> None:
    """Refuse NUL characters and lone surrogates in one string."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return
    if found.group() == "\x00":
        raise UntrustedJSONError(f"{what} may not contain NUL (\\u0000) characters")
    raise UntrustedJSONError(f"{what} may not contain lone surrogates (\\ud800-\\udfff)")


def check_untrusted(value: Any, *, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Refuse NUL characters and lone surrogates in any string or key, numbers that are
    not finite, and nesting beyond ``max_depth``."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            check_text(item)
            continue
        if isinstance(item, float):
            if not math.isfinite(item):
                raise UntrustedJSONError("numbers must be finite (no NaN, Infinity or 1e999)")
            continue
        if not isinstance(item, dict | list):
            continue
        if depth > max_depth:
            raise UntrustedJSONError(f"JSON may nest at most {max_depth} levels deep")
        if isinstance(item, dict):
            for key, inner in item.items():
                check_text(key, what="keys")
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
