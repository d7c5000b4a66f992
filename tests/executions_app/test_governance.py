"""Issue 14 through a real Celery worker and a real HTTP agent node: constraints judge the
payload dispatched, finished is final, and answers that cannot be stored fail cleanly."""

from __future__ import annotations

import pytest

from access_app.models import AccessPolicy
from executions_app.models import Execution
from executions_app.provenance import verify_execution
from tests import agent_double as behaviours
from tests.executions_app.helpers import announcing, wait_awaiting_callback, wait_terminal
from tests.factories import allow_policy, register_approved_node

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("worker")]

NODE = "gov"

UNSTORABLE = {
    "nul": (b'{"text": "a\\u0000b"}', "NUL"),
    "lone surrogate": (b'{"text": "\\ud800"}', "lone surrogate"),
    "nan": (b'{"score": NaN}', "must be finite"),
    "infinity": (b'{"score": 1e400}', "must be finite"),
    "deep": (b"[" * 100 + b"]" * 100, "at most 64 levels"),
    "deeper than recursion": (b"[" * 100_000 + b"]" * 100_000, "at most 64 levels"),
    "nul in plain text": (b"plain \x00 text", "NUL"),
}


def answering(raw: bytes):
    return lambda double, call: (200, raw)


@pytest.fixture
def agent(admin, agent_double):
    held, arrivals = announcing(behaviours.held)
    agent_double.behaviours.update(
        echo=behaviours.echo,
        later=behaviours.accepted,
        held=held,
        refuse_nul=lambda double, call: (422, b"bad \x00 input"),
        **{name.replace(" ", "_"): answering(raw) for name, (raw, _) in UNSTORABLE.items()},
    )
    agent_double.held_arrivals = arrivals
    register_approved_node(
        admin.client(), NODE, agent_double.base_url, list(agent_double.behaviours)
    )
    return agent_double


def submit(caller, name, body, **headers):
    return caller.client().post(
        f"/api/v1/execute/async/{NODE}.{name}",
        body,
        format="json",
        **{f"HTTP_{k.upper()}": v for k, v in headers.items()},
    )


# --- 3. constraints judge exactly what the agent receives --------------------------------


def test_a_nested_input_object_does_not_satisfy_a_constraint_for_the_outer_payload(alice, agent):
    AccessPolicy.objects.create(
        name="small-refunds",
        caller_tags=["team:a"],
        target_tags=["support"],
        constraints={"amount": {"operator": "<=", "value": 100}},
        action="allow",
    )
    smuggled = submit(alice, "echo", {"input": {"amount": 10**6, "input": {"amount": 1}}})
    assert smuggled.status_code == 403, smuggled.content
    assert smuggled.json()["error"] == "access_denied"
    accepted = submit(alice, "echo", {"input": {"amount": 5, "input": {"amount": 10**6}}})
    assert accepted.status_code == 202, accepted.content
    execution = wait_terminal(accepted.json()["execution_id"])
    assert execution.status == "succeeded"
    [call] = agent.calls_to("echo")
    assert call.body == {"amount": 5, "input": {"amount": 10**6}}
    assert Execution.objects.count() == 1


# --- 5. agent answers that cannot be stored fail the execution, never the task -----------


@pytest.mark.parametrize("case", list(UNSTORABLE))
def test_an_answer_that_cannot_be_stored_fails_the_execution_as_agent_error(admin, agent, case):
    name = case.replace(" ", "_")
    accepted = submit(admin, name, {"input": {}})
    assert accepted.status_code == 202, accepted.content
    execution = wait_terminal(accepted.json()["execution_id"])
    assert (execution.status, execution.error_category) == ("failed", "agent_error")
    assert "the agent's answer cannot be stored" in execution.error_message
    assert UNSTORABLE[case][1] in execution.error_message
    assert execution.result is None
    body = admin.client().get(f"/api/v1/executions/{execution.execution_id}").json()
    assert (body["status"], body["error_category"]) == ("failed", "agent_error")


def test_the_sync_route_answers_an_unstorable_answer_as_a_failed_execution(admin, agent):
    response = admin.client().post(f"/api/v1/execute/{NODE}.nul", {"input": {}}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "failed"
    assert "cannot be stored: strings may not contain NUL" in body["error_message"]


def test_an_error_body_with_nul_is_stored_with_the_nul_replaced(admin, agent):
    execution = wait_terminal(submit(admin, "refuse_nul", {"input": {}}).json()["execution_id"])
    assert (execution.status, execution.error_category) == ("failed", "agent_error")
    assert execution.error_message == "agent answered 422: bad \ufffd input"


CALLBACK_BODIES = {
    "nul": b'{"status": "succeeded", "result": {"text": "a\\u0000b"}}',
    "lone surrogate": b'{"status": "succeeded", "result": {"text": "\\udc00"}}',
    "nan": b'{"status": "succeeded", "result": {"score": NaN}}',
    "deep": b'{"status": "succeeded", "result": ' + b"[" * 100 + b"]" * 100 + b"}",
    "nul in the error": b'{"status": "failed", "error": "boom \\u0000"}',
}


def awaiting(caller, agent) -> str:
    execution_id = submit(caller, "later", {"input": {}}).json()["execution_id"]
    wait_awaiting_callback(execution_id)
    return execution_id


@pytest.mark.parametrize("case", list(CALLBACK_BODIES))
def test_a_status_callback_that_cannot_be_stored_fails_the_execution_as_agent_error(
    admin, agent, make_caller, case
):
    execution_id = awaiting(admin, agent)
    executor = make_caller("agent", node_id=NODE)
    response = executor.client().post(
        f"/api/v1/executions/{execution_id}/status",
        CALLBACK_BODIES[case],
        content_type="application/json",
    )
    assert response.status_code == 400, response.content
    execution = Execution.objects.get(execution_id=execution_id)
    assert (execution.status, execution.error_category) == ("failed", "agent_error")
    assert "the agent's status callback" in execution.error_message
    assert execution.provenance_signature
    again = executor.client().post(
        f"/api/v1/executions/{execution_id}/status", {"status": "succeeded"}, format="json"
    )
    assert again.status_code == 409


# --- 4. finished is final ------------------------------------------------------------------


def callback(caller, execution_id: str, body: dict):
    return caller.client().post(f"/api/v1/executions/{execution_id}/status", body, format="json")


def test_a_callback_on_a_finished_execution_is_409_and_changes_nothing(
    alice, admin, agent, make_caller
):
    execution_id = awaiting(admin, agent)
    executor = make_caller("agent", node_id=NODE)
    done = callback(executor, execution_id, {"status": "succeeded", "result": {"n": 1}})
    assert done.status_code == 200, done.content
    before = Execution.objects.get(execution_id=execution_id)
    for body in (
        {"status": "failed", "error": "changed my mind"},
        {"status": "succeeded", "result": {"n": 2}},
        {"status": "running"},
    ):
        again = callback(executor, execution_id, body)
        assert again.status_code == 409, again.content
        assert again.json() == {
            "error": f"execution {execution_id} is already succeeded",
            "status": "succeeded",
        }
    after = Execution.objects.get(execution_id=execution_id)
    assert (after.status, after.result, after.error_message) == ("succeeded", {"n": 1}, "")
    assert after.completed_at == before.completed_at
    assert after.provenance_signature == before.provenance_signature, "signed once"
    assert verify_execution(after)


def test_a_callback_for_a_call_the_node_is_still_answering_is_409(admin, agent, make_caller):
    """Only an execution waiting for the callback (the node answered 202) takes one."""
    execution_id = submit(admin, "held", {"input": {}}).json()["execution_id"]
    agent.held_arrivals.wait(what="the call to reach the node")
    executor = make_caller("agent", node_id=NODE)
    early = callback(executor, execution_id, {"status": "failed", "error": "forged"})
    assert early.status_code == 409, early.content
    assert early.json()["error"] == f"execution {execution_id} is not waiting for a status callback"
    assert callback(executor, execution_id, {"status": "running"}).status_code == 409
    agent.release.set()
    execution = wait_terminal(execution_id)
    assert (execution.status, execution.result) == ("succeeded", {"released": True})


def test_only_the_node_it_was_dispatched_to_may_answer_a_waiting_execution(
    alice, admin, agent, make_caller
):
    allow_policy()
    execution_id = awaiting(alice, agent)
    other_node = make_caller("agent", node_id="another-node")
    assert callback(other_node, execution_id, {"status": "failed"}).status_code == 404
    assert callback(admin, execution_id, {"status": "failed"}).status_code == 403
    assert callback(alice, execution_id, {"status": "succeeded"}).status_code == 403
    execution = Execution.objects.get(execution_id=execution_id)
    assert (execution.status, execution.awaiting_callback) == ("running", True)
    assert not execution.provenance_signature, "nothing is signed before the end"
    executor = make_caller("agent", node_id=NODE)
    assert callback(executor, execution_id, {"status": "running"}).status_code == 200
    assert callback(executor, execution_id, {"status": "succeeded"}).status_code == 200


# --- 4. X-Actor-ID: signed only from a caller who may delegate ------------------------------


def test_a_caller_key_only_claims_an_actor_and_the_provenance_says_so(alice, agent):
    allow_policy()
    accepted = submit(alice, "echo", {"input": {}}, x_actor_id="ceo@example.com")
    execution = wait_terminal(accepted.json()["execution_id"])
    assert execution.actor_id == f"key:{alice.key.pk}"
    assert execution.claimed_actor_id == "ceo@example.com"
    [call] = agent.calls_to("echo")
    assert call.headers["X-Actor-ID"] == f"key:{alice.key.pk}"
    record = alice.client().get(f"/api/v1/executions/{execution.execution_id}/provenance").json()
    assert record["caller"]["actor_id"] == f"key:{alice.key.pk}"
    assert record["caller"]["claimed_actor_id"] == "ceo@example.com"
    assert verify_execution(execution)
    body = alice.client().get(f"/api/v1/executions/{execution.execution_id}").json()
    assert (body["actor_id"], body["claimed_actor_id"]) == (
        f"key:{alice.key.pk}",
        "ceo@example.com",
    )


def test_an_admin_and_a_node_acting_for_its_own_call_may_name_the_actor(admin, agent, make_caller):
    parent = submit(admin, "echo", {"input": {}}, x_actor_id="user-7").json()
    assert Execution.objects.get(execution_id=parent["execution_id"]).actor_id == "user-7"
    node_key = make_caller("agent", node_id=NODE, tags=["team:a"])
    allow_policy()
    child = submit(
        node_key,
        "echo",
        {"input": {}},
        x_parent_execution_id=parent["execution_id"],
        x_actor_id="user-7",
    ).json()
    row = Execution.objects.get(execution_id=child["execution_id"])
    assert (row.actor_id, row.claimed_actor_id) == ("user-7", "")
    # the same key without a call of its own node to act for only claims
    alone = submit(node_key, "echo", {"input": {}}, x_actor_id="user-7").json()
    row = Execution.objects.get(execution_id=alone["execution_id"])
    assert (row.actor_id, row.claimed_actor_id) == (f"key:{node_key.key.pk}", "user-7")
