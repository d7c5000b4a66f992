"""What a node declares: reasoners and skills (callable over HTTP) and sessions."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agentfield.schema import input_schema, output_schema

REASONER = "reasoner"
SKILL = "skill"

SessionHandler = Callable[[Any], Awaitable[Any]]


class InvalidInput(ValueError):
    """The call's input does not fit the function's parameters."""


def check_target_name(name: str, kind: str) -> str:
    name = name.strip()
    if not name or "." in name:
        raise ValueError(f"{kind} name {name!r} is invalid: it must be non-empty and have no dots")
    return name


@dataclass
class CallableTarget:
    """One reasoner or skill: the function and what registration says about it."""

    kind: str
    name: str
    func: Callable[..., Any]
    tags: list[str] = field(default_factory=list)
    description: str = ""

    def __post_init__(self) -> None:
        self.signature = inspect.signature(self.func)
        self.input_schema = input_schema(self.func)
        self.output_schema = output_schema(self.func)

    def registration(self) -> dict[str, Any]:
        return {
            "id": self.name,
            "description": self.description,
            "tags": self.tags,
            "proposed_tags": self.tags,
            "input_schema": self.input_schema,
            "output_schema": self.output_schema,
        }

    def arguments(self, body: Any) -> dict[str, Any]:
        """The keyword arguments for a call body: ``{"input": {...}}`` or the input itself."""
        if body is None:
            return {}
        if not isinstance(body, Mapping):
            raise InvalidInput("the body must be a JSON object")
        wrapped = body.get("input")
        unwrap = set(body) == {"input"} and "input" not in self.signature.parameters
        if unwrap and isinstance(wrapped, Mapping):
            body = wrapped
        try:
            self.signature.bind(**body)
        except TypeError as exc:
            raise InvalidInput(f"input does not match {self.kind} {self.name!r}: {exc}") from None
        return dict(body)

    async def invoke(self, kwargs: dict[str, Any]) -> Any:
        """Run the function: a coroutine function on the loop, a plain one in a thread."""
        if inspect.iscoroutinefunction(self.func):
            return await self.func(**kwargs)
        result = await asyncio.to_thread(self.func, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result


@dataclass
class DeclaredSession:
    """A session the node declares; ``handler`` set means the node runs its calls."""

    definition: dict[str, Any]
    handler: SessionHandler | None = None

    @property
    def name(self) -> str:
        return self.definition["name"]

    def registration(self) -> dict[str, Any]:
        return {**self.definition, "approved_tags": [], "handler": self.handler is not None}
