"""The execution context of the work in progress, so nested calls join its workflow.

The node sets it from the headers of each call it receives (and for each session handler);
``Agent.call`` turns it back into headers on the calls it makes.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class ExecutionContext:
    execution_id: str = ""
    run_id: str = ""
    workflow_id: str = ""
    parent_execution_id: str = ""
    session_id: str = ""
    actor_id: str = ""

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> ExecutionContext:
        def get(name: str) -> str:
            return (headers.get(name) or "").strip()

        return cls(
            execution_id=get("X-Execution-ID"),
            run_id=get("X-Run-ID"),
            workflow_id=get("X-Workflow-ID"),
            parent_execution_id=get("X-Parent-Execution-ID"),
            session_id=get("X-Session-ID"),
            actor_id=get("X-Actor-ID"),
        )

    def child_headers(self, *, session_id: str | None = None) -> dict[str, str]:
        """Headers for a call made from inside this context: it becomes the parent."""
        headers = {
            "X-Parent-Execution-ID": self.execution_id,
            "X-Run-ID": self.run_id,
            "X-Session-ID": session_id or self.session_id,
            "X-Actor-ID": self.actor_id,
        }
        return {name: value for name, value in headers.items() if value}

    def with_session(self, session_id: str) -> ExecutionContext:
        return replace(self, session_id=session_id)


_EMPTY = ExecutionContext()
_current: ContextVar[ExecutionContext | None] = ContextVar(
    "agentfield_execution_context", default=None
)


def current_context() -> ExecutionContext:
    """The context of the reasoner, skill or session handler running now (empty outside)."""
    return _current.get() or _EMPTY


def set_context(context: ExecutionContext):
    """Set the current context; returns the token for ``reset_context``."""
    return _current.set(context)


def reset_context(token) -> None:
    _current.reset(token)
