"""A node id belongs to one owner (decision 0015): who may register it and act as it."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from access_app.models import AccessPolicy, AgentNode, ApiKey
from access_app.principals import Principal
from access_app.services.nodes import node_register
from foundation.errors import ApiError
from tests.access_app.harness import register
from tests.factories import node_body

NODE = "orders"


def orders_body(base_url: str = "http://127.0.0.1:8101"):
    return node_body(
        NODE, base_url=base_url, reasoners=[{"id": "lookup", "tags": ["support"]}], sessions=[]
    )


@pytest.mark.django_db
def test_an_unbound_key_claims_a_new_node_id_once_and_is_bound_to_it(make_caller):
    key = make_caller("agent", name="self-service")
    assert register(key, orders_body()).status_code == 201
    key.key.refresh_from_db()
    assert (key.key.node_id, key.key.node_claimed) == (NODE, True)
    response = register(key, node_body("second-node"))
    assert response.status_code == 403
    assert response.json() == {
        "error": "forbidden",
        "message": f"this API key may only act as node '{NODE}'",
    }
    assert register(key, orders_body()).status_code == 201, "its own node, again"


@pytest.mark.django_db
def test_an_unbound_key_cannot_claim_an_id_an_admin_bound_to_another_key(make_caller):
    make_caller("agent", node_id=NODE, name="the real orders node")
    squatter = make_caller("agent", name="squatter")
    response = register(squatter, orders_body())
    assert response.status_code == 403
    assert response.json() == {
        "error": "forbidden",
        "message": f"node '{NODE}' is registered by another key",
    }
    squatter.key.refresh_from_db()
    assert squatter.key.node_id == ""
    assert not AgentNode.objects.exists()


@pytest.mark.django_db
def test_a_squatter_loses_the_node_id_when_the_key_an_admin_bound_to_it_registers(
    make_caller, admin, alice
):
    squatter = make_caller("agent", name="squatter")
    assert register(squatter, orders_body("http://127.0.0.1:6666")).status_code == 201
    real = make_caller("agent", node_id=NODE, name="the real orders node")
    assert register(real, orders_body()).status_code == 201
    squatter.key.refresh_from_db()
    assert squatter.key.node_id == "", "an admin's binding supersedes the claim"
    approve = admin.client().post(
        f"/api/v1/admin/agents/{NODE}/approve-tags", {"approved_tags": ["support"]}, format="json"
    )
    assert approve.status_code == 200
    # The squatter can no longer move the node, beat for it, read it or report for it.
    moved = register(squatter, orders_body("http://127.0.0.1:6666"))
    assert moved.status_code == 403
    assert AgentNode.objects.get().base_url == "http://127.0.0.1:8101"
    client = squatter.client()
    assert client.post(f"/api/v1/nodes/{NODE}/heartbeat", {}, format="json").status_code == 404
    assert client.get(f"/api/v1/nodes/{NODE}").status_code == 404
    assert client.get("/api/v1/nodes").json()["total"] == 0
    AccessPolicy.objects.create(
        name="a", caller_tags=["team:a"], target_tags=["support"], action="allow"
    )
    queued = alice.client().post(
        f"/api/v1/execute/async/{NODE}.lookup", {"input": {}}, format="json"
    )
    assert queued.status_code == 202, queued.content
    execution_id = queued.json()["execution_id"]
    callback = client.post(
        f"/api/v1/executions/{execution_id}/status",
        {"status": "succeeded", "result": {"stolen": True}},
        format="json",
    )
    assert callback.status_code == 404
    assert client.get(f"/api/v1/executions/{execution_id}").status_code == 404
    assert real.client().get(f"/api/v1/executions/{execution_id}").status_code == 200


@pytest.mark.django_db
def test_a_key_bound_to_another_node_cannot_re_register_an_existing_one(make_caller):
    owner = make_caller("agent", node_id=NODE)
    assert register(owner, orders_body()).status_code == 201
    other = make_caller("agent", node_id="billing")
    response = register(other, orders_body("http://127.0.0.1:6666"))
    assert response.status_code == 403
    assert response.json()["message"] == "this API key may only act as node 'billing'"
    assert AgentNode.objects.get().base_url == "http://127.0.0.1:8101"


@pytest.mark.django_db
def test_node_owner_is_not_a_pass_for_a_key_that_is_not_bound(make_caller):
    """``AgentNode.owner`` decides nothing: a row naming an unbound key gives it nothing."""
    unbound = make_caller("agent")
    AgentNode.objects.create(
        node_id=NODE,
        base_url="http://127.0.0.1:9",
        dispatch_token="t",
        owner=f"key:{unbound.key.pk}",
    )
    client = unbound.client()
    assert client.post(f"/api/v1/nodes/{NODE}/heartbeat", {}, format="json").status_code == 404
    assert client.get(f"/api/v1/nodes/{NODE}").status_code == 404
    assert register(unbound, orders_body()).status_code == 403


def _race(principals: list[Principal]) -> list[object]:
    barrier = threading.Barrier(len(principals))
    outcomes: list[object] = [None] * len(principals)

    def run(index: int, principal: Principal) -> None:
        try:
            barrier.wait()
            node_register(principal=principal, payload=orders_body())
            outcomes[index] = "registered"
        except ApiError as exc:
            outcomes[index] = exc.status_code
        except Exception as exc:
            outcomes[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=item) for item in enumerate(principals)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@pytest.mark.django_db(transaction=True)
def test_two_unbound_keys_racing_for_one_new_node_id_cannot_both_win(make_caller):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers: PostgreSQL (SQLite serializes the whole database)")
    keys = [make_caller("agent", name=f"racer-{i}") for i in range(4)]
    outcomes = _race([Principal.from_api_key(k.key) for k in keys])
    assert sorted(map(str, outcomes)) == ["403", "403", "403", "registered"], outcomes
    bound = ApiKey.objects.filter(node_id=NODE)
    assert bound.count() == 1
    winner = keys[outcomes.index("registered")]
    assert bound.get().pk == winner.key.pk
    assert AgentNode.objects.get().owner == f"key:{winner.key.pk}"


@pytest.mark.django_db
def test_the_owner_is_shown_on_the_approvals_page_and_in_the_admin(client, make_caller):
    from django.contrib.auth.models import User

    squatter = make_caller("agent", name="claims-orders")
    register(squatter, orders_body())
    staff = User.objects.create_user("ops", password="pw", is_staff=True, is_superuser=True)
    client.force_login(staff)
    page = client.get("/access/approvals/").content.decode()
    assert f"claims-orders ({squatter.key.prefix}…)" in page
    assert "claimed by its first registration" in page
    node = AgentNode.objects.get()
    admin_page = client.get(f"/admin/access_app/agentnode/{node.pk}/change/").content.decode()
    assert f"claims-orders ({squatter.key.prefix}…, claimed)" in admin_page
    listing = client.get("/admin/access_app/agentnode/").content.decode()
    assert "claims-orders" in listing


@pytest.mark.django_db
def test_a_request_authenticated_before_the_squatter_lost_the_id_is_refused(make_caller):
    squatter = make_caller("agent", name="squatter")
    assert register(squatter, orders_body("http://127.0.0.1:6666")).status_code == 201
    squatter.key.refresh_from_db()
    authenticated_earlier = Principal.from_api_key(squatter.key)  # still bound to orders
    real = make_caller("agent", node_id=NODE, name="the real orders node")
    assert register(real, orders_body()).status_code == 201
    with pytest.raises(ApiError) as refused:
        node_register(principal=authenticated_earlier, payload=orders_body("http://127.0.0.1:6666"))
    assert refused.value.status_code == 403
    assert AgentNode.objects.get().base_url == "http://127.0.0.1:8101"
