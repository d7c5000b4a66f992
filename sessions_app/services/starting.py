"""Starting a session: upstream's checks in upstream's order, access, then the row."""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from access_app.access import AccessDenied, access_check, target_approved_tags
from access_app.models import AgentNode, Target, TargetKind
from access_app.principals import Principal
from access_app.read_cache import one_version
from access_app.selectors import target_resolve
from agentfield.contract.matrix import validate_session_transport
from agentfield.contract.media import validate_session_media
from agentfield.contract.turn_detection import normalize_turn_detection
from foundation.errors import ApiError
from sessions_app.models import LIVE_STATUSES, SessionInstance, hash_client_secret
from sessions_app.selectors import node_link_is_live
from sessions_app.services.events import session_event_append

CLIENT_SECRET_PREFIX = "cs_"


@dataclass
class Started:
    session: SessionInstance
    client_secret: str


def session_target_split(value: str) -> tuple[str, str]:
    """Upstream's ``splitSessionTarget``: split on the first dot, both parts non-empty."""
    node_id, dot, name = value.partition(".")
    node_id, name = node_id.strip(), name.strip()
    if not dot or not node_id or not name:
        raise ApiError(400, "session target must be <node>.<session>")
    return node_id, name


def _tool_targets(node_id: str, tools: list[str]) -> dict[str, str]:
    """Upstream's ``sessionToolTargets``: "a.b" -> {"b": "a.b"}, bare "x" -> {"x": "<node>.x"}."""
    mapping: dict[str, str] = {}
    for entry in tools:
        entry = entry.strip()
        if not entry:
            continue
        if "." in entry:
            mapping[entry.split(".", 1)[1]] = entry
        else:
            mapping[entry] = f"{node_id}.{entry}"
    return mapping


def _new_session_id() -> str:
    return f"sess_{timezone.now():%Y%m%d_%H%M%S}_{secrets.token_hex(8)}"


def _session_target(node_id: str, name: str) -> Target:
    """The active session target with its node, from the access read cache (decision 0014:
    shared, not to be modified); only a miss asks which 404 it is."""
    target = target_resolve(node_id, name, kinds=(TargetKind.SESSION,))
    if target is not None:
        return target
    if not AgentNode.objects.filter(node_id=node_id).exists():
        raise ApiError(404, "agent not found")
    sessions = Target.objects.filter(node__node_id=node_id, kind=TargetKind.SESSION, active=True)
    raise ApiError(
        404, "session not registered" if sessions.exists() else "agent has no registered sessions"
    )


def _provider_pair(definition: dict[str, Any], body: dict[str, Any], full_name: str):
    raw_provider = body.get("provider") or definition.get("provider")
    raw_transport = body.get("transport") or definition.get("transport")
    try:
        pair = validate_session_transport(
            raw_provider, raw_transport, settings.AGENTFIELD_SESSION_CAPABILITIES
        )
    except ValueError as exc:
        raise ApiError(400, str(exc), provider=raw_provider, transport=raw_transport) from None
    registered = (definition.get("provider"), definition.get("transport"))
    if (pair.provider, pair.transport) != registered:
        raise ApiError(
            400,
            f"session {full_name} is registered for provider={registered[0]} "
            f"transport={registered[1]}; requested provider={pair.provider} "
            f"transport={pair.transport}",
        )
    return pair


def live_session_deadlines(principal: Principal, now) -> list:
    """The deadlines of at most the cap's number of ``principal``'s live sessions, soonest
    first: as cheap to compile and run as a count, and no more rows than the cap."""
    return list(
        SessionInstance.objects.filter(
            owner=principal.id, status__in=LIVE_STATUSES, expires_at__gt=now
        )
        .order_by("expires_at")
        .values_list("expires_at", flat=True)[: settings.AGENTFIELD_MAX_LIVE_SESSIONS_PER_CALLER]
    )


def _hold_live_session_slot(principal: Principal) -> None:
    """Inside the start's transaction: refuse a caller who has the most live sessions.

    Live means created, connecting or active and not past its deadline (a row the sweep
    has not reached yet does not hold a slot). Starts of one caller are serialised (an
    advisory lock on PostgreSQL; SQLite's IMMEDIATE transactions serialise every write),
    so two at once cannot both take the last slot. Decision 0017.
    """
    cap = settings.AGENTFIELD_MAX_LIVE_SESSIONS_PER_CALLER
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s))", [f"live-sessions:{principal.id}"]
            )
    now = timezone.now()
    deadlines = live_session_deadlines(principal, now)
    if len(deadlines) < cap:
        return
    # A slot frees when a session ends; at the latest, when the soonest deadline passes.
    wait = max(1, math.ceil((deadlines[0] - now).total_seconds()))
    raise ApiError(
        429,
        "too_many_live_sessions",
        f"a caller may have at most {cap} live sessions; end one first",
        headers={"Retry-After": str(wait)},
        limit=cap,
    )


@dataclass(frozen=True)
class StartPlan:
    """What ``session_start_check`` found: the start may write its row."""

    target: Target
    full_name: str
    provider: str
    transport: str
    media: str
    turn_detection: Any
    handler: bool


def session_start_check(
    *, principal: Principal, target: str, body: dict[str, Any] | None = None
) -> StartPlan:
    """Every check of a start before it writes, in upstream's order; ``ApiError`` for the
    first that refuses. Read-only: the preflight route asks it too."""
    body = body or {}
    node_id, name = session_target_split(target)
    with one_version():  # the target and the policies, read under one token
        session_target = _session_target(node_id, name)
        definition = session_target.definition or {}
        full_name = f"{node_id}.{name}"
        pair = _provider_pair(definition, body, full_name)
        try:
            turn_detection = normalize_turn_detection(
                definition.get("turn_detection"), provider=pair.provider, transport=pair.transport
            )
            # As registered, unless this deployment has since turned that media off.
            media = validate_session_media(
                definition.get("media"),
                pair.provider,
                pair.transport,
                settings.AGENTFIELD_SESSION_MEDIA,
            )
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        metadata = body.get("metadata")
        decision = access_check(caller=principal, target=session_target, input=metadata)
    if isinstance(decision, AccessDenied):
        raise decision.api_error()
    handler = bool(definition.get("handler"))
    if handler and not node_link_is_live(session_target.node):
        raise ApiError(503, f"session handler for {full_name} is not connected")
    return StartPlan(
        target=session_target,
        full_name=full_name,
        provider=pair.provider,
        transport=pair.transport,
        media=media,
        turn_detection=turn_detection,
        handler=handler,
    )


def session_start(
    *, principal: Principal, target: str, body: dict[str, Any] | None = None
) -> Started:
    body = body or {}
    plan = session_start_check(principal=principal, target=target, body=body)
    session_target, full_name, handler = plan.target, plan.full_name, plan.handler
    definition = session_target.definition or {}
    with transaction.atomic():
        _hold_live_session_slot(principal)
        now = timezone.now()
        secret = CLIENT_SECRET_PREFIX + secrets.token_urlsafe(32)
        session = SessionInstance.objects.create(
            session_id=_new_session_id(),
            target=session_target,
            target_name=full_name,
            node_id=session_target.node.node_id,
            provider=plan.provider,
            transport=plan.transport,
            media=plan.media,
            model=str(body.get("model") or definition.get("model") or ""),
            voice=str(body.get("voice") or definition.get("voice") or ""),
            modalities=list(definition.get("modalities") or []),
            instructions=definition.get("instructions") or "",
            turn_detection=plan.turn_detection,
            handler=handler,
            tags=sorted(target_approved_tags(session_target)),
            tool_targets=_tool_targets(
                session_target.node.node_id, list(definition.get("tools") or [])
            ),
            metadata=body.get("metadata") or {},
            owner=principal.id,
            owner_name=principal.name,
            caller_tags=sorted(principal.tags),
            client_secret_hash=hash_client_secret(secret),
            client_secret_expires_at=now
            + timedelta(seconds=settings.AGENTFIELD_SESSION_MAX_SECONDS),
            expires_at=now + timedelta(seconds=settings.AGENTFIELD_SESSION_CONNECT_TTL),
        )
        session_event_append(
            session,
            "session.created",
            {
                "target": full_name,
                "provider": plan.provider,
                "transport": plan.transport,
                "media": plan.media,
                "caller": principal.actor,
            },
        )
    return Started(session=session, client_secret=secret)
