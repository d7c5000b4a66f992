"""Dispatch through a real Celery worker process to a real HTTP agent node."""

import hashlib
import hmac
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from access_app.models import AgentNode
from executions_app.models import Execution
from tests import agent_double as behaviours
from tests.agent_double import AgentDouble
from tests.executions_app.helpers import (
    announcing,
    wait_awaiting_callback,
    wait_terminal,
    wait_until,
)
from tests.factories import allow_policy, owned_session, register_approved_node

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("worker")]

NODE = "support"


@pytest.fixture
def agent(admin, agent_double):
    agent_double.behaviours.update(
        echo=behaviours.echo,
        held=behaviours.held,
        refuse=behaviours.unprocessable,
        down=behaviours.unavailable,
        flaky=behaviours.flaky,
        later=behaviours.accepted,
        hangup=behaviours.hang_up,
    )
    register_approved_node(
        admin.client(), NODE, agent_double.base_url, list(agent_double.behaviours)
    )
    allow_policy()
    return agent_double


def submit(caller, name, body=None, **headers):
    response = caller.client().post(
        f"/api/v1/execute/async/{NODE}.{name}",
        body or {"input": {"turn": {"text": "hi"}}},
        format="json",
        **{f"HTTP_{k.upper()}": v for k, v in headers.items()},
    )
    assert response.status_code == 202, response.content
    return response.json()


def test_a_2xx_answer_succeeds_with_its_result_and_the_agent_got_every_header(alice, agent):
    owned_session(alice, "sess_abc")
    accepted = submit(alice, "echo", x_session_id="sess_abc", x_actor_id="caller-7")
    execution = wait_terminal(accepted["execution_id"])
    assert execution.status == "succeeded"
    assert execution.result == {"echo": {"turn": {"text": "hi"}}}
    assert execution.duration_ms is not None
    [call] = agent.calls_to("echo")
    assert call.path == "/reasoners/echo"
    token = AgentNode.objects.get(node_id=NODE).dispatch_token
    assert call.headers["Authorization"] == f"Bearer {token}"
    assert call.headers["X-Execution-ID"] == accepted["execution_id"]
    assert call.headers["X-Run-ID"] == accepted["run_id"]
    assert call.headers["X-Workflow-ID"] == accepted["workflow_id"]
    assert call.headers["X-Session-ID"] == "sess_abc"
    assert call.headers["X-Actor-ID"] == f"key:{alice.key.pk}", "a caller only claims an actor"
    body = alice.client().get(f"/api/v1/executions/{accepted['execution_id']}").json()
    assert body["status"] == "succeeded"
    assert body["session_id"] == "sess_abc"


def test_a_4xx_answer_fails_as_agent_error_without_a_retry(alice, agent):
    execution = wait_terminal(submit(alice, "refuse")["execution_id"])
    assert (execution.status, execution.error_category) == ("failed", "agent_error")
    assert "422" in execution.error_message
    assert len(agent.calls_to("refuse")) == 1


def test_a_5xx_answer_is_retried_with_a_bound_then_fails_as_agent_unreachable(alice, agent):
    execution = wait_terminal(submit(alice, "down")["execution_id"])
    assert (execution.status, execution.error_category) == ("failed", "agent_unreachable")
    assert len(agent.calls_to("down")) == 4, "one call and three retries"
    assert execution.attempts == 4


def test_a_connection_broken_mid_call_fails_without_sending_the_call_again(alice, agent):
    execution = wait_terminal(submit(alice, "hangup")["execution_id"])
    assert (execution.status, execution.error_category) == ("failed", "agent_unreachable")
    assert "broke mid-call" in execution.error_message
    assert len(agent.calls_to("hangup")) == 1


def test_a_transient_5xx_recovers_on_retry(alice, agent):
    execution = wait_terminal(submit(alice, "flaky")["execution_id"])
    assert execution.status == "succeeded"
    assert len(agent.calls_to("flaky")) == 3


def test_an_unreachable_node_fails_as_agent_unreachable(alice, admin):
    register_approved_node(admin.client(), "gone", "http://127.0.0.1:9", ["anything"])
    allow_policy()
    response = alice.client().post(
        "/api/v1/execute/async/gone.anything", {"input": {}}, format="json"
    )
    execution = wait_terminal(response.json()["execution_id"])
    assert (execution.status, execution.error_category) == ("failed", "agent_unreachable")
    assert "unreachable" in execution.error_message


def test_a_202_waits_for_the_status_callback_and_terminal_states_never_regress(
    alice, agent, make_caller
):
    accepted = submit(alice, "later")
    execution_id = accepted["execution_id"]
    wait_awaiting_callback(execution_id)
    executor = make_caller("agent", node_id=NODE)
    url = f"/api/v1/executions/{execution_id}/status"
    assert alice.client().post(url, {"status": "succeeded"}, format="json").status_code == 403
    assert executor.client().post(url, {"status": "bogus"}, format="json").json() == {
        "error": "unsupported status 'bogus'"
    }
    response = executor.client().post(
        url,
        {
            "status": "completed",
            "result": {"spoken_response": "done"},
            "duration_ms": 42,
            "execution_id": execution_id,
            "reasoner": "later",
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "succeeded"
    execution = Execution.objects.get(execution_id=execution_id)
    assert execution.result == {"spoken_response": "done"}
    assert execution.duration_ms == 42
    regress = executor.client().post(url, {"status": "running"}, format="json")
    assert regress.status_code == 409
    assert Execution.objects.get(execution_id=execution_id).status == "succeeded"


def test_the_sync_route_answers_with_the_result(alice, agent):
    response = alice.client().post(
        f"/api/v1/execute/{NODE}.echo", {"input": {"n": 1}}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {
        "execution_id",
        "run_id",
        "status",
        "result",
        "error_message",
        "duration_ms",
        "finished_at",
    }
    assert body["status"] == "succeeded"
    assert body["result"] == {"echo": {"n": 1}}
    assert response["X-Execution-ID"] == body["execution_id"]


def test_the_sync_route_answers_504_with_the_execution_id_when_time_runs_out(
    alice, agent, settings
):
    settings.AGENTFIELD_SYNC_TIMEOUT = 0.5
    response = alice.client().post(f"/api/v1/execute/{NODE}.held", {"input": {}}, format="json")
    assert response.status_code == 504
    body = response.json()
    assert body["error"] == "execution_timeout"
    assert body["execution_id"].startswith("exec_")
    assert f"/api/v1/executions/{body['execution_id']}" in body["message"]
    agent.release.set()
    assert wait_terminal(body["execution_id"]).status == "succeeded"


def test_the_sync_route_refuses_like_the_async_one(bob, agent):
    response = bob.client().post(f"/api/v1/execute/{NODE}.echo", {"input": {}}, format="json")
    assert response.status_code == 403
    assert response.json()["error"] == "no_policy_matched"


def test_provenance_is_signed_and_tampering_breaks_it(alice, agent, capsys):
    owned_session(alice, "sess_p")
    accepted = submit(alice, "echo", x_session_id="sess_p")
    execution = wait_terminal(accepted["execution_id"])
    record = alice.client().get(f"/api/v1/executions/{execution.execution_id}/provenance").json()
    assert record["caller"]["principal"] == f"key:{alice.key.pk}"
    assert record["caller"]["tags"] == ["team:a"]
    assert record["target"] == {
        "name": "support.echo",
        "type": "reasoner",
        "approved_tags": ["support"],
    }
    assert record["origin"]["session_id"] == "sess_p"
    expected_input = hashlib.sha256(
        json.dumps({"turn": {"text": "hi"}}, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    assert record["input_sha256"] == expected_input
    assert record["result_sha256"]
    assert record["signature"]["algorithm"] == "Ed25519"
    call_command("verify_provenance", execution.execution_id)
    assert "verifies" in capsys.readouterr().out
    Execution.objects.filter(pk=execution.pk).update(result={"echo": "forged"})
    with pytest.raises(CommandError, match="does NOT verify"):
        call_command("verify_provenance", execution.execution_id)


def test_a_webhook_is_delivered_signed_and_retried(alice, agent, settings):
    settings.AGENTFIELD_ALLOW_PRIVATE_WEBHOOKS = True  # the receiver listens on loopback
    receiver = AgentDouble().start()
    answers = iter([(500, {}), (200, {"ok": True})])
    receiver.behaviours["hook"], hooks = announcing(lambda double, call: next(answers))
    try:
        webhook = {
            "url": f"{receiver.base_url}/hook",
            "secret": "s3cret",
            "headers": {"X-Team": "a"},
        }
        accepted = submit(alice, "echo", body={"input": {"x": 1}, "webhook": webhook})
        assert accepted["webhook_registered"] is True
        hooks.wait(2, what="two webhook attempts")
        wait_until(
            lambda: (
                Execution.objects.get(execution_id=accepted["execution_id"]).webhook_status
                == "delivered"
            ),
            what="delivery",
        )
        call = receiver.calls_to("hook")[-1]
        assert call.body["event"] == "execution.completed"
        assert call.body["execution_id"] == accepted["execution_id"]
        assert call.body["result"] == {"echo": {"x": 1}}
        assert call.headers["X-Team"] == "a"
        raw = json.dumps(call.body, separators=(",", ":")).encode()
        expected = "sha256=" + hmac.new(b"s3cret", raw, hashlib.sha256).hexdigest()
        assert call.headers["X-AgentField-Signature"] == expected
    finally:
        receiver.stop()


def test_the_dag_links_a_child_to_its_parent_and_the_page_draws_it(
    alice, agent, make_caller, client, django_user_model
):
    owned_session(alice, "sess_dag")
    parent = submit(alice, "echo", x_session_id="sess_dag")
    executor = make_caller("agent", node_id=NODE, tags=["team:a"])
    child = submit(executor, "echo", x_parent_execution_id=parent["execution_id"])
    wait_terminal(child["execution_id"])
    dag = alice.client().get(f"/api/v1/workflows/{parent['workflow_id']}/dag").json()
    assert dag["root_execution_id"] == parent["execution_id"]
    assert [n["execution_id"] for n in dag["nodes"]] == [
        parent["execution_id"],
        child["execution_id"],
    ]
    assert dag["edges"] == [{"from": parent["execution_id"], "to": child["execution_id"]}]
    assert {n["session_id"] for n in dag["nodes"]} == {"sess_dag"}
    staff = django_user_model.objects.create_superuser("ops", password="pw-ops-123")
    client.force_login(staff)
    html = client.get(f"/workflows/{parent['workflow_id']}/").content.decode()
    assert html.count('<g class="node status-') == 2
    assert 'class="edge"' in html
    assert "◉ session" in html
    outsider = django_user_model.objects.create_user("nobody", password="pw-nobody-1")
    client.force_login(outsider)
    assert client.get(f"/workflows/{parent['workflow_id']}/").status_code == 404


@pytest.mark.parametrize("header", ["x_session_id", "x_run_id", "x_actor_id"])
@pytest.mark.parametrize("value", ["\xe9", "a b", "tab\there"])
def test_a_lineage_id_outside_visible_ascii_is_a_400_and_nothing_runs(alice, agent, header, value):
    response = alice.client().post(
        f"/api/v1/execute/async/{NODE}.echo",
        {"input": {}},
        format="json",
        **{f"HTTP_{header.upper()}": value},
    )
    name = "-".join(part.capitalize() for part in header.split("_")).replace("Id", "ID")
    assert response.status_code == 400, response.content
    assert response.json() == {
        "error": f"{name} may hold only visible ASCII characters (no spaces)"
    }
    assert not Execution.objects.exists()


def test_an_id_httpx_cannot_put_in_a_header_fails_the_execution_not_the_task(alice, agent):
    """The second guard: an id the API would refuse, stored by another path, fails the
    execution as agent_error, and the worker goes on to run the next one."""
    from access_app.principals import Principal
    from executions_app.services.creation import ExecutionRequest, execution_create

    accepted = execution_create(
        principal=Principal.from_api_key(alice.key),
        request=ExecutionRequest(target=f"{NODE}.echo", input={}, session_id="\xe9"),
    )
    execution = wait_terminal(accepted.execution.execution_id)
    assert (execution.status, execution.error_category) == ("failed", "agent_error")
    assert "could not be built: UnicodeEncodeError" in execution.error_message
    assert not agent.calls_to("echo")
    after = wait_terminal(submit(alice, "echo")["execution_id"])
    assert after.status == "succeeded"


@pytest.mark.parametrize("too_long", [2**31, 2**63, 10**30])
def test_a_duration_past_the_integer_column_is_a_400_and_the_callback_can_come_again(
    alice, agent, make_caller, too_long
):
    execution_id = submit(alice, "later")["execution_id"]
    wait_awaiting_callback(execution_id)
    executor = make_caller("agent", node_id=NODE)
    url = f"/api/v1/executions/{execution_id}/status"
    body = {"status": "succeeded", "result": {"ok": True}}
    response = executor.client().post(url, {**body, "duration_ms": too_long}, format="json")
    assert response.status_code == 400, response.content
    assert "duration_ms" in response.json()["fields"]
    assert Execution.objects.get(execution_id=execution_id).status == "running"
    event = {"execution_id": execution_id, "status": "succeeded", "duration_ms": too_long}
    answer = executor.client().post("/api/v1/workflow/executions/events", event, format="json")
    assert answer.status_code == 400 and "duration_ms" in answer.json()["fields"]

    longest = 2**31 - 1
    response = executor.client().post(url, {**body, "duration_ms": longest}, format="json")
    assert response.status_code == 200, response.content
    assert Execution.objects.get(execution_id=execution_id).duration_ms == longest
