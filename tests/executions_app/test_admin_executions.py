"""Executions in the Django admin: listed, filtered and read, never added, changed or
deleted (no delete action, no delete permission, whoever asks)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client

from executions_app.models import Execution, WorkflowRun
from tests.factories import allow_policy, register_approved_node

pytestmark = pytest.mark.django_db

EXECUTIONS = "/admin/executions_app/execution/"
RUNS = "/admin/executions_app/workflowrun/"
NODE = "support"


@pytest.fixture
def executions(admin, alice) -> tuple[Execution, Execution]:
    """Two of alice's executions (no worker: they stay queued); the second one failed."""
    register_approved_node(
        admin.client(), NODE, "http://127.0.0.1:9", ["resolve_voice_turn"], skills=["lookup_order"]
    )
    allow_policy()
    ids = []
    for target, headers in (
        ("resolve_voice_turn", {"HTTP_X_RUN_ID": "run-chosen-by-alice"}),
        ("lookup_order", {}),
    ):
        response = alice.client().post(
            f"/api/v1/execute/async/{NODE}.{target}",
            {"input": {"order": 1042}},
            format="json",
            **headers,
        )
        assert response.status_code == 202, response.content
        ids.append(response.json()["execution_id"])
    # As a worker would record a failure; the webhook secret as the row keeps it (set here,
    # so no webhook host is resolved).
    Execution.objects.filter(execution_id=ids[1]).update(
        status="failed",
        error_category="agent_error",
        error_message="node said no",
        webhook_secret="whsec-hidden-value",
    )
    return tuple(Execution.objects.get(execution_id=i) for i in ids)


@pytest.fixture
def root() -> Client:
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("root", password="pw-root-1"))
    return client


def rows(response) -> set[str]:
    return {row.execution_id for row in response.context["cl"].result_list}


def test_executions_are_listed_filtered_and_read(root, executions):
    queued, failed = executions
    listing = root.get(EXECUTIONS)
    assert listing.status_code == 200
    assert rows(listing) == {queued.execution_id, failed.execution_id}
    page = listing.content.decode()
    assert "support.resolve_voice_turn" in page and "support.lookup_order" in page
    assert rows(root.get(EXECUTIONS, {"status__exact": "failed"})) == {failed.execution_id}
    assert rows(root.get(EXECUTIONS, {"target_type__exact": "skill"})) == {failed.execution_id}
    assert rows(root.get(EXECUTIONS, {"q": queued.run_id})) == {queued.execution_id}

    detail = root.get(f"{EXECUTIONS}{failed.pk}/change/")
    assert detail.status_code == 200
    body = detail.content.decode()
    assert "node said no" in body and "1042" in body
    assert f"/workflows/{failed.workflow_id}/" in body, "links to the workflow page"
    assert 'name="_save"' not in body and "<textarea" not in body
    assert "whsec-hidden-value" not in body, "the webhook secret is not shown"


@pytest.mark.parametrize("who", ["superuser", "staff with every permission"])
def test_nobody_adds_changes_or_deletes_an_execution(root, executions, who):
    queued, _ = executions
    if who == "superuser":
        client = root
    else:
        user = get_user_model().objects.create_user("desk", password="pw-d-12345", is_staff=True)
        verbs = ("add", "change", "delete", "view")
        codenames = [f"{v}_{m}" for v in verbs for m in ("execution", "workflowrun")]
        user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
        client = Client()
        client.force_login(user)
    before = list(Execution.objects.values().order_by("pk"))
    run = WorkflowRun.objects.get(run_id="run-chosen-by-alice")
    for changelist, pk in ((EXECUTIONS, queued.pk), (RUNS, run.pk)):
        listing = client.get(changelist)
        assert listing.status_code == 200
        assert 'value="delete_selected"' not in listing.content.decode()
        assert client.get(f"{changelist}add/").status_code == 403
        assert client.get(f"{changelist}{pk}/delete/").status_code == 403
        assert client.post(f"{changelist}{pk}/delete/", {"post": "yes"}).status_code == 403
        assert client.post(f"{changelist}{pk}/change/", {"status": "succeeded"}).status_code == 403
        client.post(changelist, {"action": "delete_selected", "_selected_action": [pk]})
    assert list(Execution.objects.values().order_by("pk")) == before
    assert WorkflowRun.objects.filter(pk=run.pk).exists()


def test_a_staff_user_without_the_permission_and_a_caller_are_refused(executions):
    queued, _ = executions
    desk = get_user_model().objects.create_user("desk", password="pw-d-12345", is_staff=True)
    desk.user_permissions.set(Permission.objects.filter(codename="view_sessioninstance"))
    member = get_user_model().objects.create_user("member", password="pw-m-12345")
    staff, caller = Client(), Client()
    staff.force_login(desk)
    caller.force_login(member)
    for url in (EXECUTIONS, f"{EXECUTIONS}{queued.pk}/change/", RUNS):
        assert staff.get(url).status_code == 403, url
        for client in (caller, Client()):
            refused = client.get(url)
            assert refused.status_code == 302 and "/admin/login/" in refused["Location"], url
