"""The Django admin's approve, reject and revoke actions are an admin's (an active
superuser's) only: a staff user with model permissions is neither offered them nor may run
them by posting the form."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from access_app.models import ApiKey, TagStatus, Target, TargetTag
from tests.access_app.harness import register_with_lookup_skill

pytestmark = pytest.mark.django_db

CHANGELISTS = {
    "targettag": ["approve_tags", "reject_tags"],
    "target": ["approve_everything_pending", "reject_everything_pending"],
    "apikey": ["revoke_keys"],
}


@pytest.fixture
def registered(admin):
    register_with_lookup_skill(admin)


@pytest.fixture
def desk(client):
    """A staff user who may view, and even change, these models in the admin."""
    user = get_user_model().objects.create_user("desk", password="pw-desk-123", is_staff=True)
    codenames = [f"{verb}_{model}" for model in CHANGELISTS for verb in ("view", "change")]
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client.force_login(user)
    return client


def state() -> tuple:
    return (
        sorted(TargetTag.objects.values_list("pk", "status")),
        sorted(Target.objects.values_list("pk", "approval", "definition_status")),
        sorted(ApiKey.objects.filter(revoked_at__isnull=True).values_list("pk", flat=True)),
    )


@pytest.mark.parametrize(
    ("model", "action"), [(m, a) for m, actions in CHANGELISTS.items() for a in actions]
)
def test_a_staff_user_is_not_offered_and_cannot_run_an_admin_action(
    desk, registered, alice, model, action
):
    url = f"/admin/access_app/{model}/"
    rows = {"targettag": TargetTag, "target": Target, "apikey": ApiKey}[model].objects
    assert rows.exists()
    before = state()
    assert TagStatus.PENDING in {status for _, status in before[0]}
    desk.post(url, {"action": action, "_selected_action": list(rows.values_list("pk", flat=True))})
    assert state() == before, "posting the action form changed nothing"
    page = desk.get(url)
    assert page.status_code == 200, "the staff user does see the list"
    assert f'value="{action}"' not in page.content.decode()


def test_a_superuser_is_offered_every_admin_action(client, registered):
    root = get_user_model().objects.create_superuser("root", password="pw-root-123")
    client.force_login(root)
    for model, actions in CHANGELISTS.items():
        page = client.get(f"/admin/access_app/{model}/").content.decode()
        assert all(f'value="{action}"' in page for action in actions), model
