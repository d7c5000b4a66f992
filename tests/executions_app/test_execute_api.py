"""Accepting executions: bodies, headers, access, lineage and scoping (no worker needed)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from access_app.models import Target
from access_app.services.approvals import target_tags_decide
from executions_app.models import Execution
from tests.factories import allow_policy, node_body, owned_session, register_approved_node

pytestmark = pytest.mark.django_db

NODE = "support"


@pytest.fixture
def node(admin):
    register_approved_node(
        admin.client(), NODE, "http://127.0.0.1:9", ["resolve_voice_turn"], skills=["lookup_order"]
    )
    allow_policy()


def submit(caller, target=f"{NODE}.resolve_voice_turn", body=None, **headers):
    return caller.client().post(
        f"/api/v1/execute/async/{target}",
        body if body is not None else {"input": {"q": 1}},
        format="json",
        **{f"HTTP_{k.upper()}": v for k, v in headers.items()},
    )


def test_it_accepts_with_upstreams_202_body_and_headers(alice, node):
    response = submit(alice)
    assert response.status_code == 202, response.content
    body = response.json()
    assert set(body) == {
        "execution_id",
        "run_id",
        "workflow_id",
        "status",
        "target",
        "type",
        "created_at",
        "enqueued_at",
        "session_id",
        "webhook_registered",
    }
    assert body["status"] == "queued"
    assert body["target"] == "support.resolve_voice_turn"
    assert body["type"] == "reasoner"
    assert body["workflow_id"] == body["run_id"]
    assert body["execution_id"].startswith("exec_")
    assert body["session_id"] is None
    assert body["webhook_registered"] is False
    assert response["X-Execution-ID"] == body["execution_id"]
    assert response["X-Run-ID"] == body["run_id"]
    row = Execution.objects.get(execution_id=body["execution_id"])
    assert row.input == {"q": 1}
    assert row.owner == f"key:{alice.key.pk}"
    assert row.caller_tags == ["team:a"]
    assert row.target_tags == ["support"]


def test_a_skill_is_a_target_too(alice, node):
    assert submit(alice, f"{NODE}.lookup_order").json()["type"] == "skill"


def test_the_x_headers_are_honoured_and_stored(alice, node):
    owned_session(alice, "sess_1")
    response = submit(alice, x_session_id="sess_1", x_actor_id="user-42", x_run_id="run_custom")
    body = response.json()
    assert body["session_id"] == "sess_1"
    assert body["run_id"] == body["workflow_id"] == "run_custom"
    row = Execution.objects.get(execution_id=body["execution_id"])
    # a caller key may not delegate: the actor is the caller, the header a claim beside it
    assert (row.session_id, row.actor_id) == ("sess_1", f"key:{alice.key.pk}")
    assert row.claimed_actor_id == "user-42"


def test_a_child_call_inherits_its_parents_workflow_and_session(alice, node, make_caller):
    owned_session(alice, "sess_9")
    parent = submit(alice, x_session_id="sess_9").json()
    agent = make_caller("agent", node_id=NODE, tags=["team:a"])
    child = submit(agent, x_parent_execution_id=parent["execution_id"]).json()
    assert child["run_id"] == parent["run_id"]
    assert child["workflow_id"] == parent["workflow_id"]
    assert child["session_id"] == "sess_9"
    assert Execution.objects.get(execution_id=child["execution_id"]).depth == 1


def test_another_caller_cannot_attach_to_a_foreign_parent_or_run(alice, bob, node):
    allow_policy("team-b", caller_tags=["team:b"])
    parent = submit(alice).json()
    response = submit(bob, x_parent_execution_id=parent["execution_id"])
    assert response.status_code == 404
    assert response.json() == {"error": "parent execution not found"}
    response = submit(bob, x_run_id=parent["run_id"])
    assert response.status_code == 404
    assert response.json() == {"error": "run not found"}


@pytest.mark.parametrize("target", ["support", "a.b.c", ".x", "x."])
def test_a_malformed_target_is_400(alice, node, target):
    response = submit(alice, target)
    assert response.status_code == 400
    assert response.json() == {"error": "target must be <node>.<name>"}


@pytest.mark.parametrize("target", ["ghost.resolve_voice_turn", "support.nothing"])
def test_an_unknown_target_is_404(alice, node, target):
    response = submit(alice, target)
    assert response.status_code == 404
    assert response.json() == {"error": f"target '{target}' not found"}


def test_a_session_name_is_not_an_execution_target(alice, admin):
    admin.client().post("/api/v1/nodes/register", node_body(NODE), format="json")
    assert submit(alice, f"{NODE}.voice").status_code == 404


def test_a_pending_target_is_503_before_anything_is_queued(alice, admin):
    admin.client().post("/api/v1/nodes/register", node_body(NODE, sessions=[]), format="json")
    allow_policy()
    response = submit(alice)
    assert response.status_code == 503
    assert response.json()["error"] == "agent_pending_approval"
    assert not Execution.objects.exists()


def test_a_rejected_target_is_403(alice, admin):
    admin.client().post("/api/v1/nodes/register", node_body(NODE, sessions=[]), format="json")
    target_tags_decide(
        target=Target.objects.get(name="resolve_voice_turn"), decision="rejected", actor="t"
    )
    response = submit(alice)
    assert response.status_code == 403
    assert response.json()["error"] == "target_tags_rejected"


def test_a_caller_without_a_matching_policy_is_403(bob, node):
    response = submit(bob)
    assert response.status_code == 403
    assert response.json() == {
        "error": "no_policy_matched",
        "message": "no access policy matches this request",
    }
    assert not Execution.objects.exists()


def test_a_deny_policy_is_403_access_denied(alice, node):
    from access_app.models import AccessPolicy

    AccessPolicy.objects.create(
        name="no", caller_tags=["team:a"], target_tags=[], action="deny", priority=100
    )
    assert submit(alice).json() == {"error": "access_denied", "message": "Access denied by policy"}


@pytest.mark.parametrize(
    "body",
    [{"input": "text"}, {"input": {}, "status": "succeeded"}, [1, 2], {"webhook": {"x": 1}}],
)
def test_the_body_is_validated_strictly(alice, node, body):
    response = submit(alice, body=body)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_null_input_is_an_empty_object(alice, node):
    body = submit(alice, body={"input": None}).json()
    assert Execution.objects.get(execution_id=body["execution_id"]).input == {}


def test_a_webhook_to_a_private_address_is_refused_without_failing_the_execution(alice, node):
    response = submit(alice, body={"input": {}, "webhook": {"url": "http://127.0.0.1:9/hook"}})
    assert response.status_code == 202
    body = response.json()
    assert body["webhook_registered"] is False
    assert "private" in body["webhook_error"]


def test_a_webhook_with_credentials_in_the_url_is_refused(alice, node, settings):
    settings.AGENTFIELD_ALLOW_PRIVATE_WEBHOOKS = True
    body = submit(alice, body={"input": {}, "webhook": {"url": "http://u:p@127.0.0.1:9/"}}).json()
    assert body["webhook_error"] == "webhook url must not contain credentials"
    ok = submit(
        alice, body={"input": {}, "webhook": {"url": "http://127.0.0.1:9/h", "secret": "s"}}
    ).json()
    assert ok["webhook_registered"] is True


def test_the_execution_is_scoped_to_its_caller(alice, bob, admin, node, make_caller):
    execution_id = submit(alice).json()["execution_id"]
    url = f"/api/v1/executions/{execution_id}"
    body = alice.client().get(url).json()
    assert body["status"] == "queued"
    assert body["target"] == "support.resolve_voice_turn"
    assert admin.client().get(url).status_code == 200
    executor = make_caller("agent", node_id=NODE)
    assert executor.client().get(url).status_code == 200
    for stranger in (bob, make_caller("agent", node_id="other")):
        response = stranger.client().get(url)
        assert response.status_code == 404
        assert response.json() == {"error": "execution not found"}


def test_batch_status_reports_only_what_the_caller_may_see(alice, bob, node):
    mine = submit(alice).json()["execution_id"]
    response = bob.client().post(
        "/api/v1/executions/batch-status", {"execution_ids": [mine, "nope"]}, format="json"
    )
    assert response.json() == {mine: {"status": "not_found"}, "nope": {"status": "not_found"}}
    body = (
        alice.client()
        .post("/api/v1/executions/batch-status", {"execution_ids": [mine]}, format="json")
        .json()
    )
    assert body[mine]["status"] == "queued"


def test_the_dag_and_provenance_are_scoped(alice, bob, node):
    body = submit(alice).json()
    for url in (
        f"/api/v1/workflows/{body['workflow_id']}/dag",
        f"/api/v1/executions/{body['execution_id']}/provenance",
    ):
        assert alice.client().get(url).status_code == 200
        assert bob.client().get(url).status_code == 404


def test_a_session_instance_id_must_be_a_session_the_caller_started(alice, bob, node):
    allow_policy("team-b", caller_tags=["team:b"])
    owned_session(alice, "sess_alices")
    response = submit(bob, x_session_id="sess_alices")
    assert response.status_code == 404
    assert response.json() == {"error": "session not found"}
    assert not Execution.objects.exists()


def test_an_x_session_id_naming_no_session_instance_is_recorded_as_given(alice, bob, node):
    """Upstream's conversation key: clients set ids of their own (memory scopes, grouping)."""
    allow_policy("team-b", caller_tags=["team:b"])
    for caller, key in ((alice, "conversation-7f3a"), (bob, "conversation-7f3a")):
        response = submit(caller, x_session_id=key)
        assert response.status_code == 202, response.content
        assert response.json()["session_id"] == key
    rows = Execution.objects.filter(session_id="conversation-7f3a")
    assert sorted(r.owner for r in rows) == sorted([f"key:{alice.key.pk}", f"key:{bob.key.pk}"])
    assert all(r.actor_id == r.owner for r in rows)  # no session: the caller acts for itself
    # each caller still sees only its own executions under the shared key
    mine = submit(alice, x_session_id="conversation-7f3a").json()["execution_id"]
    assert bob.client().get(f"/api/v1/executions/{mine}").status_code == 404


def test_one_accept_reads_the_access_version_once_and_the_access_tables_not_at_all(alice, node):
    assert submit(alice).status_code == 202  # fills the read cache
    with CaptureQueriesContext(connection) as queries:
        assert submit(alice).status_code == 202
    sql = [query["sql"] for query in queries]
    assert sum("access_app_accessversion" in q for q in sql) == 1, sql
    assert not [q for q in sql if "access_app_target" in q or "access_app_accesspolicy" in q]


def test_upstreams_log_lines_and_workflow_events_are_taken_from_the_executing_node(
    alice, node, make_caller, caplog
):
    """The upstream SDK posts both for every reasoner call it serves (reference §7)."""
    executor = make_caller("agent", node_id=NODE, name="support node")
    stranger = make_caller("agent", node_id="elsewhere", name="another node")
    execution_id = submit(alice).json()["execution_id"]
    logs = {"entries": [{"level": "INFO", "event_type": "reasoner.started", "message": "hi"}]}
    event = {"execution_id": execution_id, "workflow_id": "wf", "run_id": "run",
             "reasoner_id": "resolve_voice_turn", "agent_node_id": NODE, "status": "running",
             "type": "resolve_voice_turn", "parent_execution_id": None,
             "parent_workflow_id": None, "input_data": {"q": 1}}  # fmt: skip
    logs_url = f"/api/v1/executions/{execution_id}/logs"
    events_url = "/api/v1/workflow/executions/events"
    for caller in (stranger, alice):  # another node; the caller, who does not execute it
        assert caller.client().post(logs_url, logs, format="json").status_code == 404
        assert caller.client().post(events_url, event, format="json").status_code == 404
    with caplog.at_level("INFO", logger="agentfield.node_reports"):
        taken = executor.client().post(logs_url, logs, format="json")
        assert (taken.status_code, taken.json()) == (202, {"accepted": 1})
        assert executor.client().post(events_url, event, format="json").status_code == 202
    assert f"execution {execution_id} (support.resolve_voice_turn) log: reasoner.started hi" in (
        caplog.text
    )
    assert "workflow event: status=running" in caplog.text
    unknown = executor.client().post("/api/v1/executions/exec_nope/logs", logs, format="json")
    assert unknown.status_code == 404
    assert executor.client().post(logs_url, {"lines": []}, format="json").status_code == 400
    assert Execution.objects.get(execution_id=execution_id).status == "queued"  # unchanged


def test_node_reports_cannot_forge_log_lines_or_raise_their_level(alice, node, make_caller, caplog):
    executor = make_caller("agent", node_id=NODE, name="support node")
    execution_id = submit(alice).json()["execution_id"]
    forged = "ok\n2026-12-01 10:00:00,000 ERROR django: forged\r\x1b[31m\x85\u2028end"
    logs = {"entries": [{"level": "CRITICAL", "event_type": "a\nb", "message": forged}]}
    event = {"execution_id": execution_id, "status": "failed\nx", "error": forged}
    with caplog.at_level("DEBUG", logger="agentfield.node_reports"):
        taken = executor.client().post(
            f"/api/v1/executions/{execution_id}/logs", logs, format="json"
        )
        assert taken.status_code == 202
        posted = executor.client().post("/api/v1/workflow/executions/events", event, format="json")
        assert posted.status_code == 202
    records = [r for r in caplog.records if r.name == "agentfield.node_reports"]
    assert [r.levelname for r in records] == ["WARNING", "INFO"]
    escaped = "ok\\n2026-12-01 10:00:00,000 ERROR django: forged\\r\\x1b[31m\\x85\\u2028end"
    line, workflow = (r.getMessage() for r in records)
    assert line.endswith(f"log: a\\nb {escaped}")
    assert workflow.endswith(f"workflow event: status=failed\\nx error={escaped}")
    assert not any(c in line + workflow for c in "\n\r\x1b\x85\u2028")
