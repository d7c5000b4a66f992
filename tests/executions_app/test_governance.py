"""Issue 14 through a real Celery worker and a real HTTP agent node: constraints judge the
payload dispatched, finished is final, and answers that cannot be stored fail cleanly."""

from __future__ import annotations

import pytest

from access_app.models import AccessPolicy
from executions_app.models import Execution
from tests import agent_double as behaviours
from tests.executions_app.helpers import wait_terminal
from tests.factories import register_approved_node

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("worker")]

NODE = "gov"


@pytest.fixture
def agent(admin, agent_double):
    agent_double.behaviours.update(echo=behaviours.echo, later=behaviours.accepted)
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
