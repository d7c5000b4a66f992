"""Migration 0005 keeps what was callable callable, binds the keys that registered nodes,
and (SQLite) puts back the access-version triggers its table rebuilds drop."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from access_app.read_cache import access_version

BEFORE = [("access_app", "0004_access_version")]
AFTER = [("access_app", "0005_node_ownership_reapproval")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_existing_targets_keep_their_approval_and_unbound_owners_are_bound():
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    try:
        apps = _migrate(BEFORE)
        ApiKey = apps.get_model("access_app", "ApiKey")
        AgentNode = apps.get_model("access_app", "AgentNode")
        Target = apps.get_model("access_app", "Target")
        unbound = ApiKey.objects.create(name="u", prefix="p1", key_hash="h", role="agent")
        node = AgentNode.objects.create(
            node_id="orders",
            base_url="http://127.0.0.1:8101",
            dispatch_token="t",
            owner=f"key:{unbound.pk}",
        )
        Target.objects.create(node=node, kind="reasoner", name="lookup", approval="approved")
        Target.objects.create(
            node=node,
            kind="session",
            name="voice",
            approval="approved",
            definition={"tools": ["lookup", "support.resolve"], "handler": True},
        )

        apps = _migrate(AFTER)
        Target = apps.get_model("access_app", "Target")
        voice = Target.objects.get(name="voice")
        assert voice.definition_status == "approved"
        assert voice.approved_reach == voice.reach
        assert voice.reach["tools"] == ["orders.lookup", "support.resolve"]
        assert voice.reach["host"] == "127.0.0.1"
        key = apps.get_model("access_app", "ApiKey").objects.get(pk=unbound.pk)
        assert (key.node_id, key.node_claimed) == ("orders", True)

        before = access_version()
        Target.objects.filter(pk=voice.pk).update(approval="rejected")
        assert access_version() != before, "the triggers of decision 0014 are in place"
    finally:
        _migrate(latest)
