"""How an execution joins a session (``X-Session-ID``).

Sessions live in an app above this one, so that app answers the ``session_binding_requested``
signal (``executions_app.signals``). Without a receiver, a session id is recorded as given.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from access_app.principals import Principal
from executions_app.signals import session_binding_requested


@dataclass(frozen=True)
class SessionBinding:
    """Who the execution is checked and recorded as, once attached to the session."""

    principal: Principal  # whose tags the access check uses; ``id`` becomes the owner
    actor_id: str = ""
    on_created: Callable[[object], None] | None = None  # called with the new Execution


def session_bind(principal: Principal, session_id: str, target: str) -> SessionBinding:
    """The first receiver's binding. A receiver refuses by raising (unknown session, not
    allowed); ``send`` lets that propagate, which is the point."""
    for _receiver, binding in session_binding_requested.send(
        sender=None, principal=principal, session_id=session_id, target=target
    ):
        if binding is not None:
            return binding
    return SessionBinding(principal=principal)
