"""The access read cache: every change to what a decision reads is seen by the next one."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from access_app.models import (
    AccessPolicy,
    AccessVersion,
    AgentNode,
    NodeStatus,
    TagStatus,
    Target,
)
from access_app.read_cache import access_version
from access_app.selectors import policies_enabled, target_resolve, target_with_node
from access_app.services.nodes import node_heartbeat

pytestmark = pytest.mark.django_db


@pytest.fixture
def target(db) -> Target:
    node = AgentNode.objects.create(
        node_id="orders",
        base_url="http://127.0.0.1:9",
        dispatch_token="t",
        owner="admin",
        status=NodeStatus.READY,
    )
    return Target.objects.create(
        node=node,
        kind="reasoner",
        name="lookup",
        approval=TagStatus.APPROVED,
        definition_status=TagStatus.APPROVED,
    )


def _resolve() -> Target | None:
    return target_resolve("orders", "lookup")


def test_a_second_resolve_reads_only_the_version(target):
    assert _resolve().pk == target.pk
    with CaptureQueriesContext(connection) as queries:
        assert _resolve().pk == target.pk
    assert len(queries) == 1
    assert "access_app_target" not in queries[0]["sql"]


def test_changes_by_bulk_update_raw_sql_and_delete_are_seen_at_once(target):
    assert _resolve().approval == TagStatus.APPROVED
    Target.objects.filter(pk=target.pk).update(approval=TagStatus.REJECTED)  # no signals
    assert _resolve().approval == TagStatus.REJECTED
    with connection.cursor() as cursor:
        cursor.execute("UPDATE access_app_target SET approval = %s", [TagStatus.PENDING])
    assert _resolve().approval == TagStatus.PENDING
    target.node.delete()
    assert _resolve() is None


def test_policy_changes_are_seen_by_the_next_decision(db):
    assert policies_enabled() == []
    policy = AccessPolicy.objects.create(name="p", action="allow", caller_tags=["a"])
    assert [p.name for p in policies_enabled()] == ["p"]
    AccessPolicy.objects.filter(pk=policy.pk).update(action="deny")
    assert policies_enabled()[0].action == "deny"
    AccessPolicy.objects.filter(pk=policy.pk).update(enabled=False)
    assert policies_enabled() == []


def test_a_heartbeat_keeps_the_cache_and_a_new_address_does_not(target):
    before = access_version()
    node_heartbeat(node=target.node, reported_status="ready")
    assert access_version() == before
    AgentNode.objects.filter(pk=target.node.pk).update(base_url="http://127.0.0.1:10")
    assert access_version() != before
    assert _resolve().node.base_url == "http://127.0.0.1:10"


def test_without_the_version_row_every_read_goes_to_the_table(target):
    AccessVersion.objects.all().delete()
    assert access_version() is None
    _resolve()
    with CaptureQueriesContext(connection) as queries:
        _resolve()
    assert any("access_app_target" in query["sql"] for query in queries)


def test_the_dispatch_path_sees_a_new_registration_token_at_once(target):
    assert target_with_node(target.pk).node.dispatch_token == "t"
    AgentNode.objects.filter(pk=target.node.pk).update(dispatch_token="rotated")
    assert target_with_node(target.pk).node.dispatch_token == "rotated"
