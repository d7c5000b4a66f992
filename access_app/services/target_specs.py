"""What a registration declares: its payload read into one ``TargetSpec`` per target.

Refusals are the registration route's 400 answers (API.md section 2), raised as
``ApiError`` with upstream's bodies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from access_app.models import TargetKind
from access_app.reach import session_tools_qualified
from access_app.tags import normalize_tags
from agentfield.contract.definition import normalize_session_definition
from foundation.errors import ApiError

TARGET_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_\-:]{0,199}$")


@dataclass
class TargetSpec:
    kind: str
    name: str
    tags: list[str]
    definition: dict[str, Any] = field(default_factory=dict)


def invalid_request(message: str) -> ApiError:
    return ApiError(400, "invalid_request", message)


def _component_specs(kind: str, items: list[dict[str, Any]], node_tags: list[str]):
    specs: dict[str, TargetSpec] = {}
    for item in items:
        name = str(item.get("id") or item.get("name") or "").strip()
        if not TARGET_NAME_PATTERN.match(name):
            raise invalid_request(
                f"{kind} id {name!r} is invalid: use letters, digits, '_', '-' or ':' "
                "(no dots: targets are <node>.<name>)"
            )
        if name in specs:
            raise invalid_request(f"{kind} {name!r} is declared twice")
        own = normalize_tags((item.get("tags") or []) + (item.get("proposed_tags") or []))
        definition = {
            key: item[key]
            for key in ("description", "input_schema", "output_schema")
            if item.get(key) is not None
        }
        specs[name] = TargetSpec(kind, name, normalize_tags(own + node_tags), definition)
    return list(specs.values())


def _session_specs(payload: dict[str, Any], node_id: str) -> list[TargetSpec]:
    sessions = payload.get("sessions") or []
    if not sessions:
        custom = (payload.get("metadata") or {}).get("custom") or {}
        candidate = custom.get("sessions") if isinstance(custom, dict) else None
        sessions = candidate if isinstance(candidate, list) else []
    specs: dict[str, TargetSpec] = {}
    for raw in sessions:
        if not isinstance(raw, dict):
            raise invalid_request("each session must be an object")
        name = str(raw.get("name") or "").strip()
        try:
            definition = normalize_session_definition(
                raw, settings.AGENTFIELD_SESSION_CAPABILITIES, settings.AGENTFIELD_SESSION_MEDIA
            )
            session_tools_qualified(node_id, definition["tools"])
        except ValueError as exc:
            raise ApiError(400, str(exc), session=name) from None
        if name in specs:
            raise ApiError(400, "session is declared twice", session=name)
        specs[name] = TargetSpec(TargetKind.SESSION, name, definition["tags"], definition)
    return list(specs.values())


def target_specs_read(
    *, payload: dict[str, Any], node_id: str, node_tags: list[str]
) -> list[TargetSpec]:
    """Every target the payload declares: reasoners and skills (with the node's tags),
    then sessions; a reasoner and a skill may not share a name."""
    specs = [
        *_component_specs(TargetKind.REASONER, payload.get("reasoners") or [], node_tags),
        *_component_specs(TargetKind.SKILL, payload.get("skills") or [], node_tags),
        *_session_specs(payload, node_id),
    ]
    shared = {s.name for s in specs if s.kind == TargetKind.REASONER} & {
        s.name for s in specs if s.kind == TargetKind.SKILL
    }
    if shared:
        raise invalid_request(f"a reasoner and a skill share the name {sorted(shared)[0]!r}")
    return specs
