"""Migration 0006 writes the media path every existing session target had (relay over
webrtc, none otherwise) into its definition, reach and approved reach, so upgrading puts
nothing up for review again; the access-version triggers (decision 0014) still fire."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from access_app.models import TagStatus, Target
from access_app.read_cache import access_version
from tests.access_app.harness import NODE, register
from tests.factories import node_body, session_def

BEFORE = [("access_app", "0005_node_ownership_reapproval")]
AFTER = [("access_app", "0006_session_media")]
OLD_FIELDS = ("provider", "transport", "model", "instructions", "handler")


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def _old_target(Target, node, name: str, transport: str, *, approved: bool = True):
    """A session target as 0005 left it: no media anywhere."""
    definition = {"name": name, "provider": "openai", "transport": transport, "handler": False}
    reach = {"host": "127.0.0.1", "tools": [], **{f: definition.get(f) for f in OLD_FIELDS}}
    return Target.objects.create(
        node=node,
        kind="session",
        name=name,
        approval="approved" if approved else "pending",
        definition=definition,
        reach=reach,
        approved_reach=dict(reach) if approved else None,
        definition_status="approved" if approved else "pending",
    )


@pytest.mark.django_db(transaction=True)
def test_existing_sessions_get_their_media_and_keep_their_approval():
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    try:
        apps = _migrate(BEFORE)
        AgentNode = apps.get_model("access_app", "AgentNode")
        OldTarget = apps.get_model("access_app", "Target")
        node = AgentNode.objects.create(
            node_id="orders", base_url="http://127.0.0.1:8101", dispatch_token="t", owner="x"
        )
        _old_target(OldTarget, node, "voice", "webrtc")
        _old_target(OldTarget, node, "chat", "websocket")
        _old_target(OldTarget, node, "fresh", "webrtc", approved=False)
        OldTarget.objects.create(node=node, kind="reasoner", name="lookup", reach={"host": "h"})

        before = access_version()
        apps = _migrate(AFTER)
        assert access_version() != before, "the rows' UPDATEs fired the triggers"
        Target = apps.get_model("access_app", "Target")
        voice, chat, fresh = (Target.objects.get(name=n) for n in ("voice", "chat", "fresh"))
        assert voice.definition["media"] == voice.reach["media"] == "relay"
        assert voice.approved_reach == voice.reach and voice.definition_status == "approved"
        assert chat.definition["media"] == chat.reach["media"] == chat.approved_reach["media"] == ""
        assert fresh.reach["media"] == "relay" and fresh.approved_reach is None
        assert Target.objects.get(name="lookup").reach == {"host": "h"}

        before = access_version()
        Target.objects.filter(pk=voice.pk).update(approval="rejected")
        assert access_version() != before, "the triggers of decision 0014 are in place"

        # And back: reaches as 0005's code computes them, approvals kept.
        OldTarget = _migrate(BEFORE).get_model("access_app", "Target")
        voice = OldTarget.objects.get(name="voice")
        assert "media" not in voice.definition and "media" not in voice.reach
        assert voice.approved_reach == voice.reach
    finally:
        _migrate(latest)


@pytest.mark.django_db(transaction=True)
def test_an_upgraded_relay_session_that_registers_again_stays_approved(agent):
    """The migrated reach is the one registration computes now: nothing is re-approved."""
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    try:
        apps = _migrate(BEFORE)
        AgentNode = apps.get_model("access_app", "AgentNode")
        OldTarget = apps.get_model("access_app", "Target")
        node = AgentNode.objects.create(
            node_id=NODE, base_url="http://127.0.0.1:8101", dispatch_token="t", owner="x"
        )
        registered = session_def(tools=[], tags=[])
        definition = {**registered, "handler": False, "instructions": ""}
        reach = {"host": "127.0.0.1", "tools": [], **{f: definition[f] for f in OLD_FIELDS}}
        OldTarget.objects.create(
            node=node, kind="session", name="voice", approval="approved",
            definition=definition, reach=reach, approved_reach=reach,
            definition_status="approved",
        )  # fmt: skip
        _migrate(latest)

        response = register(agent, node_body(reasoners=[], sessions=[registered]))
        assert response.status_code == 201, response.content
        target = Target.objects.get(name="voice")
        assert target.definition_status == TagStatus.APPROVED
        assert target.reach == target.approved_reach and target.reach["media"] == "relay"
    finally:
        _migrate(latest)
