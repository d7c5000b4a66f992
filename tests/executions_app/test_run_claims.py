"""A new X-Run-ID is claimed atomically: two callers racing for it never share a workflow."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from executions_app.models import Execution, WorkflowRun
from tests.factories import allow_policy, register_approved_node

NODE = "support"
ROUNDS = 12


@pytest.fixture
def node(admin):
    register_approved_node(admin.client(), NODE, "http://127.0.0.1:9", ["resolve_voice_turn"])
    allow_policy()
    allow_policy("team-b", caller_tags=["team:b"])


def submit(caller, run_id: str):
    return caller.client().post(
        f"/api/v1/execute/async/{NODE}.resolve_voice_turn",
        {"input": {}},
        format="json",
        HTTP_X_RUN_ID=run_id,
    )


@pytest.mark.django_db
def test_a_run_id_claimed_by_one_caller_is_404_for_another_even_before_it_has_an_execution(
    alice, bob, node
):
    WorkflowRun.objects.create(run_id="run_taken", owner=f"key:{alice.key.pk}")
    response = submit(bob, "run_taken")
    assert (response.status_code, response.json()) == (404, {"error": "run not found"})
    assert submit(alice, "run_taken").status_code == 202
    assert submit(alice, "run_taken").status_code == 202, "the owner joins its own run again"
    assert submit(bob, "run_taken").status_code == 404


@pytest.mark.django_db
def test_a_refused_caller_claims_no_run_id(alice, make_caller, node):
    stranger = make_caller("caller", tags=["team:z"])
    assert submit(stranger, "run_wanted").status_code == 403
    assert not WorkflowRun.objects.filter(run_id="run_wanted").exists()
    assert submit(alice, "run_wanted").status_code == 202


@pytest.mark.django_db
def test_a_generated_run_id_of_another_caller_stays_404(alice, bob, node):
    generated = alice.client().post(
        f"/api/v1/execute/async/{NODE}.resolve_voice_turn", {"input": {}}, format="json"
    )
    run_id = generated.json()["run_id"]
    assert submit(bob, run_id).status_code == 404
    assert submit(alice, run_id).status_code == 202


def race(run_id: str, callers: dict) -> dict[str, int]:
    """Each caller submits with ``run_id`` from its own thread, all released at once."""
    barrier = threading.Barrier(len(callers))
    statuses: dict[str, int] = {}

    def one(name: str, caller) -> None:
        try:
            barrier.wait(10)
            statuses[name] = submit(caller, run_id).status_code
        finally:
            connection.close()

    threads = [threading.Thread(target=one, args=item) for item in callers.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return statuses


@pytest.mark.django_db(transaction=True)
def test_two_callers_racing_for_one_new_run_id_never_share_its_workflow(alice, bob, node):
    if connection.vendor != "postgresql":
        pytest.skip("the race needs concurrent writers: runs on PostgreSQL")
    for round_ in range(ROUNDS):
        run_id = f"run_race_{round_}"
        statuses = race(run_id, {"alice": alice, "bob": bob})
        assert sorted(statuses.values()) == [202, 404], (run_id, statuses)
        owners = set(Execution.objects.filter(run_id=run_id).values_list("owner", flat=True))
        assert len(owners) == 1, (run_id, owners)
        assert WorkflowRun.objects.get(run_id=run_id).owner in owners
