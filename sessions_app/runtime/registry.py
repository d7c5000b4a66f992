"""The live runtimes of this process, by session id."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sessions_app.runtime.session import SessionRuntime

_live: dict[str, SessionRuntime] = {}


def register(runtime: SessionRuntime) -> None:
    _live[runtime.session_id] = runtime


def unregister(session_id: str) -> None:
    _live.pop(session_id, None)


def get(session_id: str) -> SessionRuntime | None:
    return _live.get(session_id)


def live_count() -> int:
    return len(_live)
