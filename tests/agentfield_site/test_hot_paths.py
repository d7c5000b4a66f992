"""What the hot paths cost: SQL statements and thread hops per request (issue 23).

Each request goes through ``agentfield_site.asgi.application``, the application daphne
serves (reused request threads, the loop-safe middleware, the view), after one request
that warms what a running server has warm (the access read cache, the key's last-used
stamp). Every statement any thread sends is counted, and every ``sync_to_async`` hop. A
test fails when its path costs more; when a change makes one cost less, lower its numbers
here and in the README's table.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from asgiref import sync as asgiref_sync
from django.conf import settings
from django.db import connection
from django.db.backends import utils as db_utils

from tests.factories import allow_policy
from tests.sessions_app.helpers import TOOL_NODE, VOICE_NODE, session_world, start

pytestmark = pytest.mark.django_db(transaction=True)

TOOL = "resolve_voice_turn"


def expected_statements(path: str) -> int:
    """SQLite opens a write transaction with ``BEGIN IMMEDIATE`` (a statement); PostgreSQL
    takes the per-caller advisory lock of the live-session cap (decision 0017) instead."""
    sqlite = connection.vendor == "sqlite"
    return {
        "me": 1,  # the key
        "healthz": 1,  # SELECT 1
        # the key, the access version (the target and the policies are cached under it),
        # BEGIN or the lock, the live deadlines, the session, its first event
        "session start": 6,
        # the key, the session, BEGIN (SQLite), the access version, the execution, the
        # session's tool count, its event
        "tool call": 7 if sqlite else 6,
        "execute/async": 3,  # the key, the access version, the execution
    }[path]


def expected_hops(path: str) -> int:
    """Django's ASGI handler makes three for any sync view: ``request_started``'s
    receivers, the view, ``request_finished``'s (the response's ``close``); a DRF response
    adds its ``render``. ``/healthz`` is async: the database check, and without Redis the
    embedded broker's check."""
    if path == "healthz":
        return 3 if settings.REDIS_URL else 4
    return 4


@pytest.fixture
def world(make_caller):
    admin = make_caller("admin").client()
    alice = make_caller("caller", tags=["team:a"], name="alice")
    session_world(admin, transport="websocket")
    allow_policy("team-a-calls-support")
    session_id = start(alice.client()).json()["session_id"]
    return alice, session_id


@pytest.fixture
def cost(monkeypatch):
    """Statements and hops, recorded from every thread."""
    statements: list[str] = []
    hops: list[str] = []
    execute, hop = db_utils.CursorWrapper._execute_with_wrappers, asgiref_sync.SyncToAsync.__call__

    def counted_execute(self, sql, *args, **kwargs):
        statements.append(sql)
        return execute(self, sql, *args, **kwargs)

    def counted_hop(self, *args, **kwargs):
        hops.append(getattr(self.func, "__qualname__", repr(self.func)))
        return hop(self, *args, **kwargs)

    monkeypatch.setattr(db_utils.CursorWrapper, "_execute_with_wrappers", counted_execute)
    monkeypatch.setattr(asgiref_sync.SyncToAsync, "__call__", counted_hop)
    return statements, hops


def requests(session_id: str) -> dict[str, tuple[str, str, dict | None]]:
    return {
        "me": ("GET", "/api/v1/me", None),
        "healthz": ("GET", "/healthz", None),
        "session start": ("POST", f"/api/v1/session-targets/{VOICE_NODE}.voice/start", {}),
        "tool call": ("POST", f"/api/v1/session-instances/{session_id}/tools/{TOOL}", {}),
        "execute/async": ("POST", f"/api/v1/execute/async/{TOOL_NODE}.{TOOL}", {"input": {}}),
    }


def served(secret: str, method: str, path: str, body: dict | None, cost) -> httpx.Response:
    """The second of two identical requests, with only its own cost recorded."""
    from agentfield_site.asgi import application

    async def twice() -> httpx.Response:
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            headers = {"X-API-Key": secret}
            await client.request(method, path, json=body, headers=headers)
            for recorded in cost:
                recorded.clear()
            return await client.request(method, path, json=body, headers=headers)

    return asyncio.run(twice())


@pytest.mark.parametrize("path", ["me", "healthz", "session start", "tool call", "execute/async"])
def test_a_hot_path_costs_no_more_statements_and_hops_than_it_did(world, cost, path):
    alice, session_id = world
    response = served(alice.secret, *requests(session_id)[path], cost)
    assert response.status_code < 300, response.text
    statements, hops = cost
    assert len(statements) == expected_statements(path), "\n".join(statements)
    assert len(hops) == expected_hops(path), hops
