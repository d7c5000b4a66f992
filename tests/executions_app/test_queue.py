"""Tasks are enqueued by name, once the transaction commits, and a failed publish is left to
the recovery sweep."""

from __future__ import annotations

import pytest

from agentfield_site.celery import app
from executions_app import queue, tasks


@pytest.fixture
def sent(monkeypatch) -> list[tuple]:
    published: list[tuple] = []
    monkeypatch.setattr(
        app, "send_task", lambda name, args, **options: published.append((name, args, options))
    )
    return published


def test_the_names_the_queue_sends_are_the_tasks_the_worker_runs():
    # shared tasks are proxies; the registry holds the tasks themselves
    assert app.tasks[queue.DISPATCH_TASK] is tasks.dispatch_execution._get_current_object()
    assert app.tasks[queue.WEBHOOK_TASK] is tasks.deliver_webhook._get_current_object()


@pytest.mark.django_db
def test_a_task_is_sent_only_once_the_transaction_commits(sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        queue.enqueue_dispatch_on_commit("exec_1")
        queue.enqueue_webhook_on_commit("exec_1", countdown=2.5)
        assert sent == [], "nothing is sent before the commit"
    assert sent == [
        (queue.DISPATCH_TASK, ("exec_1",), {"countdown": None, "ignore_result": True}),
        (queue.WEBHOOK_TASK, ("exec_1",), {"countdown": 2.5, "ignore_result": True}),
    ]


@pytest.mark.django_db
def test_a_failed_publish_is_logged_not_raised(
    monkeypatch, caplog, django_capture_on_commit_callbacks
):
    def broker_down(*args, **options):
        raise ConnectionError("broker down")

    monkeypatch.setattr(app, "send_task", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        queue.enqueue_dispatch_on_commit("exec_2")
    assert "could not enqueue executions_app.tasks.dispatch_execution for exec_2" in caplog.text
