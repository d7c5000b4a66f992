"""Nothing is lost and nothing runs twice when workers die or messages go missing."""

import asyncio
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from executions_app import waiting
from executions_app.models import Execution
from executions_app.services.dispatch import (
    execution_claim,
    execution_dispatch,
    executions_recover,
)
from foundation import waits
from tests import agent_double as behaviours
from tests.executions_app.helpers import announcing, wait_terminal
from tests.factories import allow_policy, register_approved_node
from tests.worker import celery_worker, stop_worker

NODE = "support"


@pytest.fixture
def node(admin, agent_double):
    held, agent_double.held_arrivals = announcing(behaviours.held)
    agent_double.behaviours.update(echo=behaviours.echo, held=held)
    register_approved_node(admin.client(), NODE, agent_double.base_url, ["echo", "held"])
    allow_policy()
    return agent_double


def submit(caller, name="echo"):
    response = caller.client().post(
        f"/api/v1/execute/async/{NODE}.{name}", {"input": {}}, format="json"
    )
    assert response.status_code == 202, response.content
    return response.json()["execution_id"]


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def claim(execution_id: str, holder: str, **fields) -> None:
    values = {
        "status": "running",
        "claimed_by": holder,
        "started_at": timezone.now(),
        "lease_expires_at": timezone.now() + timedelta(minutes=5),
    }
    Execution.objects.filter(execution_id=execution_id).update(**(values | fields))


@pytest.mark.django_db
def test_a_redelivered_task_fails_a_call_whose_worker_died_instead_of_calling_again(alice, node):
    execution_id = submit(alice)
    claim(execution_id, f"{socket.gethostname()}:{dead_pid()}")
    assert execution_dispatch(execution_id) is None
    execution = Execution.objects.get(execution_id=execution_id)
    assert (execution.status, execution.error_category) == ("failed", "worker_lost")
    assert execution.provenance_signature
    assert node.calls == [], "the agent is never called a second time"


@pytest.mark.django_db
def test_a_redelivered_task_leaves_a_call_whose_worker_is_alive_alone(alice, node):
    execution_id = submit(alice)
    claim(execution_id, f"{socket.gethostname()}:{settings_pid()}")
    assert execution_dispatch(execution_id) is None
    assert Execution.objects.get(execution_id=execution_id).status == "running"
    assert node.calls == []


def settings_pid() -> int:
    import os

    return os.getpid()


@pytest.mark.django_db
def test_the_sweep_fails_calls_whose_lease_ran_out_and_times_out_silent_callbacks(alice, node):
    lost, silent, live = submit(alice), submit(alice), submit(alice)
    past = timezone.now() - timedelta(seconds=1)
    claim(lost, "another-host:123", lease_expires_at=past)
    claim(silent, "", awaiting_callback=True, lease_expires_at=past)
    claim(live, "another-host:456")
    counts = executions_recover()
    assert counts == {"worker_lost": 1, "timeout": 1, "requeued": 0}
    statuses = dict(Execution.objects.values_list("execution_id", "status"))
    assert statuses == {lost: "failed", silent: "timeout", live: "running"}


@pytest.mark.django_db
def test_the_sweep_requeues_queued_executions_whose_task_went_missing(alice, node):
    stale, fresh = submit(alice), submit(alice)
    Execution.objects.filter(execution_id=stale).update(
        enqueued_at=timezone.now() - timedelta(minutes=5)
    )
    assert executions_recover()["requeued"] == 1
    assert Execution.objects.get(execution_id=stale).enqueued_at > timezone.now() - timedelta(
        seconds=5
    )
    assert Execution.objects.get(execution_id=fresh).status == "queued"


@pytest.mark.django_db(transaction=True)
async def test_a_waiter_survives_a_lost_hint_by_re_reading_the_row(alice, node, monkeypatch):
    from asgiref.sync import sync_to_async

    execution_id = await sync_to_async(submit)(alice)
    waiting_now = threading.Event()
    pause = waits.GroupHints.pause

    async def pause_and_tell(self, remaining: float) -> None:
        waiting_now.set()
        await pause(self, remaining)

    monkeypatch.setattr(waits.GroupHints, "pause", pause_and_tell)

    def finish_silently():
        # Once the waiter waits: the row changes and no hint is sent.
        assert waiting_now.wait(10), "the waiter never waited"
        Execution.objects.filter(execution_id=execution_id).update(status="succeeded")

    thread = threading.Thread(target=finish_silently)
    thread.start()
    execution = await waiting.wait_for_execution_end(execution_id, timeout=10)
    thread.join()
    assert execution.status == "succeeded"


@pytest.mark.django_db(transaction=True)
async def test_a_waiter_gives_up_at_its_timeout_with_the_latest_state(alice, node):
    from asgiref.sync import sync_to_async

    execution_id = await sync_to_async(submit)(alice)
    started = time.monotonic()
    execution = await waiting.wait_for_execution_end(execution_id, timeout=0.3)
    assert execution.status == "queued"
    assert time.monotonic() - started < 5
    assert await waiting.wait_for_execution_end("exec_missing", timeout=0.1) is None


@pytest.mark.skipif(not settings.REDIS_URL, reason="the in-memory layer does not cross processes")
@pytest.mark.django_db(transaction=True)
async def test_the_channel_hint_from_the_worker_wakes_the_waiter(alice, node, monkeypatch):
    from asgiref.sync import sync_to_async

    monkeypatch.setattr(waits, "FIRST_RECHECK", 60)
    monkeypatch.setattr(waits, "MAX_RECHECK", 60)
    worker_cm = celery_worker("hint")
    await sync_to_async(worker_cm.__enter__)()
    try:
        execution_id = await sync_to_async(submit)(alice)
        execution = await asyncio.wait_for(
            waiting.wait_for_execution_end(execution_id, timeout=30), timeout=20
        )
        assert execution.status == "succeeded"
    finally:
        await sync_to_async(worker_cm.__exit__)(None, None, None)


@pytest.mark.worker
@pytest.mark.skipif(not settings.REDIS_URL, reason="runs on PostgreSQL + Redis")
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_with_sigkill_mid_call_loses_no_execution(alice, node):
    import signal

    with celery_worker("victim", concurrency=2) as victim:
        ids = [submit(alice, "held") for _ in range(6)]
        node.held_arrivals.wait(2, what="the victim to be mid-call")
        stop_worker(victim, signal.SIGKILL)
    node.release.set()
    with celery_worker("rescuer", concurrency=2):
        try:
            finished = [wait_terminal(execution_id, timeout=30) for execution_id in ids]
        except AssertionError:
            rows = Execution.objects.filter(execution_id__in=ids).values_list(
                "execution_id", "status", "claimed_by", "attempts", "error_category"
            )
            called = [c.headers["X-Execution-ID"] for c in node.calls]
            raise AssertionError(f"{list(rows)}\ncalled: {called}") from None
    by_status = {}
    for execution in finished:
        by_status.setdefault((execution.status, execution.error_category), []).append(execution)
    lost = by_status.get(("failed", "worker_lost"), [])
    succeeded = by_status.get(("succeeded", ""), [])
    assert len(lost) + len(succeeded) == 6, by_status
    assert len(lost) == 2, "exactly the two calls in flight when the worker died"
    called = [c.headers["X-Execution-ID"] for c in node.calls]
    assert len(called) == len(set(called)), "no execution reached the agent twice"
    assert {e.execution_id for e in succeeded} <= set(called)


@pytest.mark.django_db
def test_a_claim_takes_only_a_queued_row_and_returns_it_as_stored(alice, node, settings):
    execution_id = submit(alice)
    before = timezone.now()
    claimed = execution_claim(execution_id, "host:1")
    assert claimed is not None
    assert (claimed.status, claimed.claimed_by, claimed.attempts) == ("running", "host:1", 1)
    assert claimed.input == {} and claimed.target_name == f"{NODE}.echo"
    stored = Execution.objects.get(execution_id=execution_id)
    assert stored.started_at == claimed.started_at and stored.started_at >= before
    lease = timedelta(seconds=settings.AGENTFIELD_AGENT_CALL_TIMEOUT)
    assert stored.lease_expires_at >= before + lease
    assert execution_claim(execution_id, "host:2") is None, "a running row is not claimed"

    first_start = stored.started_at
    Execution.objects.filter(execution_id=execution_id).update(status="queued")  # a retry
    again = execution_claim(execution_id, "host:2")
    assert (again.attempts, again.claimed_by, again.started_at) == (2, "host:2", first_start)
