"""How an execution joins a session (``X-Session-ID``).

Sessions live in an app above this one, so that app registers the rule at start-up
(``register_session_binder``). Without one, a session id is recorded as given.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from access_app.principals import Principal


@dataclass(frozen=True)
class SessionBinding:
    """Who the execution is checked and recorded as, once attached to the session."""

    principal: Principal  # whose tags the access check uses; ``id`` becomes the owner
    actor_id: str = ""
    on_created: Callable[[object], None] | None = None  # called with the new Execution


SessionBinder = Callable[[Principal, str, str], SessionBinding]
_binder: SessionBinder | None = None


def register_session_binder(binder: SessionBinder) -> None:
    global _binder
    _binder = binder


def bind_session(principal: Principal, session_id: str, target: str) -> SessionBinding:
    """May raise ``ExecutionRefused`` (unknown session, not allowed)."""
    if _binder is None:
        return SessionBinding(principal=principal)
    return _binder(principal, session_id, target)
