"""The SDK's exceptions."""

from __future__ import annotations

from typing import Any


class AgentFieldError(Exception):
    """Base class of the SDK's own errors."""


class RegistrationRefused(AgentFieldError):
    """The control plane refused the node's registration (a 4xx); retrying will not help."""

    def __init__(self, status: int, body: Any) -> None:
        detail = body.get("message") or body.get("error") if isinstance(body, dict) else body
        super().__init__(f"registration refused ({status}): {detail}")
        self.status = status
        self.body = body


class ExecutionError(AgentFieldError):
    """A call through the control plane did not succeed.

    ``status`` is the execution's status when there is one (``failed``, ``timeout``,
    ``running`` after a 504, ...), else ``"refused"`` for a call the control plane turned
    down; ``http_status`` is the HTTP status of the answer (0 when none arrived).
    """

    def __init__(
        self,
        message: str,
        *,
        execution_id: str | None = None,
        status: str = "failed",
        http_status: int = 0,
        error_category: str | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.execution_id = execution_id
        self.status = status
        self.http_status = http_status
        self.error_category = error_category
        self.body = body


class SessionEnded(AgentFieldError):
    """The session is over: the caller hung up, it expired, or it was ended."""

    def __init__(self, session_id: str, reason: str = "") -> None:
        super().__init__(f"session {session_id} ended" + (f": {reason}" if reason else ""))
        self.session_id = session_id
        self.reason = reason
