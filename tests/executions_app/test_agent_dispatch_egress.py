"""Dispatch checks where it connects: a named base_url is resolved once per call, every
address is checked against AGENTFIELD_AGENT_NETWORKS, and the call goes to that address
(decision 0015). DNS is a resolver the tests inject; only loopback is ever connected to."""

from __future__ import annotations

import pytest

from access_app.models import AgentNode
from access_app.reach import BaseUrlRefused, BaseUrlUnresolved, base_url_check
from executions_app.models import Execution
from executions_app.services.dispatch import agent_client, execution_dispatch, http_client
from tests import agent_double as behaviours
from tests.executions_app.resolvers import answers, no_lookup
from tests.factories import allow_policy, register_approved_node

NODE = "support"


@pytest.fixture
def named_node(admin, agent_double):
    """An approved node whose base_url is a name (registered when it resolved inward)."""
    agent_double.behaviours.update(echo=behaviours.echo)
    register_approved_node(admin.client(), NODE, agent_double.base_url, ["echo"])
    allow_policy()
    port = agent_double.server.server_address[1]
    AgentNode.objects.filter(node_id=NODE).update(base_url=f"http://agent.invalid:{port}")
    return agent_double, port


def submit(caller) -> str:
    response = caller.client().post(
        f"/api/v1/execute/async/{NODE}.echo", {"input": {"n": 1}}, format="json"
    )
    assert response.status_code == 202, response.content
    return response.json()["execution_id"]


@pytest.mark.django_db
def test_a_named_base_url_is_resolved_per_call_and_called_at_that_address_with_its_host(
    alice, named_node
):
    double, port = named_node
    resolve = answers("127.0.0.1")
    for _ in range(2):
        assert execution_dispatch(submit(alice), resolve=resolve) is None
    assert resolve.calls == [("agent.invalid", port)] * 2, "once per call"
    calls = double.calls_to("echo")
    assert [c.headers["Host"] for c in calls] == [f"agent.invalid:{port}"] * 2
    assert set(Execution.objects.values_list("status", flat=True)) == {"succeeded"}
    same = answers("127.0.0.1")
    url = f"http://agent.invalid:{port}"
    assert agent_client(url, resolve=same) is agent_client(url, resolve=same), "pooled"
    assert agent_client(url, resolve=answers("127.0.0.2")) is not agent_client(url, resolve=same)


@pytest.mark.django_db
def test_a_name_that_now_resolves_outside_the_networks_fails_the_call_without_sending_it(
    alice, named_node
):
    double, _ = named_node
    execution_id = submit(alice)
    assert execution_dispatch(execution_id, resolve=answers("127.0.0.1", "169.254.169.254")) is None
    execution = Execution.objects.get(execution_id=execution_id)
    assert (execution.status, execution.error_category) == ("failed", "agent_unreachable")
    assert "outside the networks agent nodes may use" in execution.error_message
    assert "169.254.169.254" in execution.error_message
    assert execution.attempts == 1, "a refused address is not retried"
    assert double.calls == []


@pytest.mark.parametrize(
    "addresses",
    [
        ["169.254.169.254"],
        ["::ffff:169.254.169.254"],
        ["fd00:ec2::254"],
        ["fd20:ce::254"],
        ["fe80::1%eth0"],
        ["8.8.8.8"],
        ["127.0.0.1", "10.0.0.5"],  # every address must pass
    ],
)
def test_every_address_of_the_answer_must_be_inside_the_networks(settings, addresses):
    settings.AGENTFIELD_AGENT_NETWORKS = ["127.0.0.0/8"]
    with pytest.raises(BaseUrlRefused, match="outside the networks"):
        agent_client("http://agent.invalid:8101", resolve=answers(*addresses))


def test_a_name_without_an_answer_is_unresolved_and_retried(settings):
    with pytest.raises(BaseUrlUnresolved, match="does not resolve"):
        agent_client("http://agent.invalid:8101", resolve=answers())


def test_an_address_literal_or_localhost_is_not_resolved_and_uses_the_shared_pool():
    for url in ("http://127.0.0.1:8101", "http://[::1]:8101", "http://localhost:8101"):
        assert agent_client(url, resolve=no_lookup) is http_client(), url


def test_a_literal_outside_the_networks_now_is_refused_at_dispatch(settings):
    settings.AGENTFIELD_AGENT_NETWORKS = ["10.0.0.0/8"]
    with pytest.raises(BaseUrlRefused):
        agent_client("http://127.0.0.1:8101", resolve=no_lookup)


def test_only_exact_localhost_skips_the_resolver():
    base_url_check("http://localhost:8101", resolve=no_lookup)
    resolve = answers("169.254.169.254")
    with pytest.raises(BaseUrlRefused):
        base_url_check("http://agent.localhost:8101", resolve=resolve)
    assert resolve.calls == [("agent.localhost", 8101)]
    with pytest.raises(BaseUrlRefused):
        agent_client("http://agent.localhost:8101", resolve=resolve)
    base_url_check("http://agent.localhost:8101", resolve=answers("127.0.0.1"))
