"""What the author of a node writes: its reasoners, skills and sessions.

``Agent`` inherits these decorators; nothing here talks to the control plane (the node
lifecycle in ``agentfield.node`` registers what is declared here).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from agentfield.contract.definition import normalize_session_definition
from agentfield.targets import (
    REASONER,
    SKILL,
    CallableTarget,
    DeclaredSession,
    SessionHandler,
    check_target_name,
)

F = TypeVar("F", bound=Callable[..., Any])


def _first_paragraph(func: Callable[..., Any]) -> str:
    return (inspect.getdoc(func) or "").split("\n\n", 1)[0].replace("\n", " ").strip()


class Declarations:
    """The node's declared targets: ``@reasoner``, ``@skill``, ``@session``,
    ``declare_session`` and the registration entries they make."""

    node_id: str
    session_capabilities: Mapping[str, tuple[str, ...] | list[str]] | None

    def __init__(self) -> None:
        self._targets: dict[tuple[str, str], CallableTarget] = {}
        self._sessions: dict[str, DeclaredSession] = {}

    def reasoner(
        self,
        name: str | F | None = None,
        *,
        tags: list[str] | None = None,
        description: str | None = None,
    ) -> Any:
        """Declare a reasoner (``@app.reasoner`` or ``@app.reasoner(name, tags=...)``)."""
        return self._declare(REASONER, name, tags, description)

    def skill(
        self,
        name: str | F | None = None,
        *,
        tags: list[str] | None = None,
        description: str | None = None,
    ) -> Any:
        """Declare a skill; same shape as ``reasoner``."""
        return self._declare(SKILL, name, tags, description)

    def _declare(self, kind: str, name: Any, tags: list[str] | None, description: str | None):
        def register(func: F) -> F:
            target_name = check_target_name(name if isinstance(name, str) else func.__name__, kind)
            if any(existing == target_name for _, existing in self._targets):
                raise ValueError(f"{self.node_id} already declares a target {target_name!r}")
            self._targets[(kind, target_name)] = CallableTarget(
                kind=kind,
                name=target_name,
                func=func,
                tags=list(tags or []),
                description=description if description is not None else _first_paragraph(func),
            )
            return func

        if callable(name):
            func, name = name, None
            return register(func)
        return register

    def session(
        self,
        name: str,
        *,
        provider: str,
        transport: str,
        media: str | None = None,
        model: str | None = None,
        modalities: list[str] | None = None,
        voice: str | None = None,
        tools: list[str] | None = None,
        tags: list[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        turn_detection: Mapping[str, Any] | None = None,
        instructions: str | None = None,
    ) -> Callable[[SessionHandler], SessionHandler]:
        """Declare a session whose calls this node handles: ``async def handler(session)``.

        Provider and transport are checked now, with upstream's messages
        (``SessionTransportError`` for an unsupported pair, ``ValueError`` otherwise), and
        so is ``media`` (``webrtc`` only: ``"relay"``, the default, or ``"direct"``).
        """
        definition = self._session_definition(
            name,
            provider=provider,
            transport=transport,
            media=media,
            model=model,
            modalities=modalities,
            voice=voice,
            tools=tools,
            tags=tags,
            metadata=metadata,
            turn_detection=turn_detection,
            instructions=instructions,
        )

        def register(handler: SessionHandler) -> SessionHandler:
            if not inspect.iscoroutinefunction(handler):
                raise TypeError(f"the handler of session {name!r} must be an async function")
            self._add_session(DeclaredSession(definition, handler))
            handler._agentfield_session = definition  # type: ignore[attr-defined]
            return handler

        return register

    def declare_session(self, name: str, **options: Any) -> dict[str, Any]:
        """Declare a model-driven session (no handler: the realtime model answers and calls
        the session's tools by itself). Same options as ``session``."""
        definition = self._session_definition(name, **options)
        self._add_session(DeclaredSession(definition))
        return definition

    def _session_definition(self, name: str, **options: Any) -> dict[str, Any]:
        raw = {"name": name, **{k: v for k, v in options.items() if v is not None}}
        return normalize_session_definition(raw, self.session_capabilities)

    def _add_session(self, declared: DeclaredSession) -> None:
        if declared.name in self._sessions:
            raise ValueError(f"{self.node_id} already declares a session {declared.name!r}")
        self._sessions[declared.name] = declared

    @property
    def reasoners(self) -> list[dict[str, Any]]:
        return [t.registration() for (kind, _), t in self._targets.items() if kind == REASONER]

    @property
    def skills(self) -> list[dict[str, Any]]:
        return [t.registration() for (kind, _), t in self._targets.items() if kind == SKILL]

    @property
    def sessions(self) -> list[dict[str, Any]]:
        return [s.registration() for s in self._sessions.values()]

    @property
    def _has_handlers(self) -> bool:
        return any(s.handler is not None for s in self._sessions.values())

    def _find_target(self, kind: str, name: str) -> CallableTarget | None:
        return self._targets.get((kind, name))
