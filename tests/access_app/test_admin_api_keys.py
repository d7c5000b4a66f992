"""API keys in the Django admin: created by an admin with the secret shown once (only its
hash kept), revoked with the button or the action, and neither for a staff user whatever
model permissions they hold."""

from __future__ import annotations

import logging
import re

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from rest_framework.test import APIClient

from access_app.models import ApiKey, hash_secret
from access_app.signals import api_key_revoked

pytestmark = pytest.mark.django_db

ADD = "/admin/access_app/apikey/add/"
LIST = "/admin/access_app/apikey/"
SECRET_ON_PAGE = re.compile(r'<code id="api-key-secret">([^<]+)</code>')


def change_url(key: ApiKey) -> str:
    return f"{LIST}{key.pk}/change/"


def revoke_url(key: ApiKey) -> str:
    return f"{LIST}{key.pk}/revoke/"


def api(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=secret)
    return client


@pytest.fixture
def root(client) -> Client:
    user = get_user_model().objects.create_superuser("root", password="pw-root-123")
    client.force_login(user)
    return client


@pytest.fixture
def desk() -> Client:
    """A staff user holding every model permission on API keys, but no admin."""
    user = get_user_model().objects.create_user("desk", password="pw-desk-123", is_staff=True)
    verbs = ("add", "change", "delete", "view")
    user.user_permissions.set(
        Permission.objects.filter(codename__in=[f"{verb}_apikey" for verb in verbs])
    )
    client = Client()
    client.force_login(user)
    return client


def create_in_the_admin(client: Client, **fields) -> tuple[ApiKey, str, str]:
    body = {"name": "support-app", "role": "caller", "tags": "", "node_id": "", **fields}
    response = client.post(ADD, body)
    assert response.status_code == 200, response.content[:2000]
    page = response.content.decode()
    match = SECRET_ON_PAGE.search(page)
    assert match, page[:3000]
    return ApiKey.objects.get(name=body["name"]), match[1], page


def test_a_key_created_in_the_admin_shows_its_secret_once_and_the_secret_authenticates(
    root, caplog
):
    with caplog.at_level(logging.DEBUG):
        key, secret, page = create_in_the_admin(
            root, name="support-app", tags="Team:Support, tier:gold\nregion:eu\n"
        )

    assert "shown only on this page" in page
    assert key.key_hash == hash_secret(secret) and key.prefix in secret
    assert key.tags == ["region:eu", "team:support", "tier:gold"]
    me = api(secret).get("/api/v1/me")
    assert me.status_code == 200, me.content
    assert me.json()["role"] == "caller"
    assert sorted(me.json()["tags"]) == ["region:eu", "team:support", "tier:gold"]

    # Nowhere to find it again: not on the key's pages, not stored, not logged, not in the
    # browser's cookies or session.
    for url in (change_url(key), LIST, f"{LIST}?q={key.prefix}", "/admin/"):
        later = root.get(url)
        assert later.status_code == 200
        assert secret not in later.content.decode()
        assert 'id="api-key-secret"' not in later.content.decode()
    stored = [str(value) for row in ApiKey.objects.values() for value in row.values()]
    assert not any(secret in value for value in stored)
    assert not any(secret in (entry.change_message or "") for entry in LogEntry.objects.all())
    assert LogEntry.objects.filter(object_id=str(key.pk)).exists(), "the addition is logged"
    assert secret not in caplog.text
    assert not any(secret in cookie.value for cookie in root.cookies.values())
    assert not any(secret in str(value) for value in root.session.values())


def test_an_admin_key_created_in_the_admin_acts_as_an_admin(root):
    _, secret, _ = create_in_the_admin(root, name="ops", role="admin")
    assert api(secret).get("/api/v1/admin/api-keys").status_code == 200


def test_an_agent_key_may_be_bound_to_a_node_and_a_caller_key_may_not(root):
    key, _, _ = create_in_the_admin(root, name="support-node", role="agent", node_id="support")
    assert (key.role, key.node_id) == ("agent", "support")

    refused = root.post(ADD, {"name": "bound-caller", "role": "caller", "node_id": "support"})
    assert refused.status_code == 200
    assert "only agent keys can be bound to a node" in refused.content.decode()
    assert not ApiKey.objects.filter(name="bound-caller").exists()


@pytest.mark.parametrize(
    ("tags", "says"),
    [
        ("team:a,,team:b", "an empty item"),
        ("team:a, ", "an empty item"),
        ("team a", "no spaces"),
        ("team:*", "use letters, digits"),
        ("team;drop", "use letters, digits"),
        ("-team", "use letters, digits"),
        ("x" * 201, "longer than 200"),
    ],
)
def test_bad_tags_are_refused_and_no_key_is_created(root, tags, says):
    response = root.post(ADD, {"name": "bad-tags", "role": "caller", "tags": tags})
    assert response.status_code == 200
    page = response.content.decode()
    assert says in page
    assert 'id="api-key-secret"' not in page
    assert not ApiKey.objects.filter(name="bad-tags").exists()


def test_tags_of_a_key_are_edited_as_a_list(root, make_caller):
    caller = make_caller("caller", tags=["team:a"], name="app")
    form = root.get(change_url(caller.key)).content.decode()
    assert "team:a</textarea>" in form, "the list is shown as text, not JSON"

    body = {"name": "app", "tags": "team:b\nteam:a, team:b", "node_id": ""}
    response = root.post(change_url(caller.key), body)
    assert response.status_code == 302, response.content[:2000]
    caller.key.refresh_from_db()
    assert caller.key.tags == ["team:a", "team:b"]
    assert sorted(api(caller.secret).get("/api/v1/me").json()["tags"]) == ["team:a", "team:b"]

    refused = root.post(change_url(caller.key), {**body, "tags": "team b"})
    assert "no spaces" in refused.content.decode()
    caller.key.refresh_from_db()
    assert caller.key.tags == ["team:a", "team:b"]


def test_revoking_with_the_button_makes_the_key_fail_and_sends_the_signal(
    root, make_caller, django_capture_on_commit_callbacks
):
    caller = make_caller("caller", tags=["team:a"], name="app")
    other = make_caller("caller", tags=["team:a"], name="other")
    assert api(caller.secret).get("/api/v1/me").status_code == 200
    page = root.get(change_url(caller.key)).content.decode()
    assert revoke_url(caller.key) in page, "the change page offers the button"
    confirm = root.get(revoke_url(caller.key))
    assert confirm.status_code == 200
    assert "Yes, revoke it" in confirm.content.decode()
    assert ApiKey.objects.get(pk=caller.key.pk).revoked_at is None, "GET only asks"

    sent = []

    def receiver(sender, principal_id, **kwargs):
        sent.append(principal_id)

    api_key_revoked.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = root.post(revoke_url(caller.key))
    finally:
        api_key_revoked.disconnect(receiver)

    assert response.status_code == 302
    assert sent == [f"key:{caller.key.pk}"]
    assert api(caller.secret).get("/api/v1/me").status_code == 401
    assert api(other.secret).get("/api/v1/me").status_code == 200, "only that key"
    after = root.get(change_url(caller.key)).content.decode()
    assert "was revoked" in after
    assert revoke_url(caller.key) not in after


def test_revoking_with_the_action_makes_the_keys_fail(root, make_caller):
    one = make_caller("caller", name="one")
    two = make_caller("caller", name="two")
    kept = make_caller("caller", name="kept")
    response = root.post(
        LIST, {"action": "revoke_keys", "_selected_action": [one.key.pk, two.key.pk]}, follow=True
    )
    assert "Revoked 2 key(s)." in response.content.decode()
    assert api(one.secret).get("/api/v1/me").status_code == 401
    assert api(two.secret).get("/api/v1/me").status_code == 401
    assert api(kept.secret).get("/api/v1/me").status_code == 200


def test_keys_are_revoked_never_deleted(root, make_caller):
    caller = make_caller("caller", name="app")
    assert root.get(f"{LIST}{caller.key.pk}/delete/").status_code == 403
    assert root.post(f"{LIST}{caller.key.pk}/delete/", {"post": "yes"}).status_code == 403
    listing = root.get(LIST).content.decode()
    assert 'value="delete_selected"' not in listing
    assert ApiKey.objects.filter(pk=caller.key.pk).exists()


def test_a_staff_user_may_neither_create_edit_nor_revoke_a_key(desk, make_caller):
    caller = make_caller("caller", tags=["team:a"], name="app")
    assert desk.get(LIST).status_code == 200, "the staff user does see the list"
    assert desk.get(ADD).status_code == 403
    assert desk.post(ADD, {"name": "mine", "role": "admin", "tags": ""}).status_code == 403
    assert not ApiKey.objects.filter(name="mine").exists()

    form = desk.get(change_url(caller.key)).content.decode()
    assert "<textarea" not in form and revoke_url(caller.key) not in form
    desk.post(change_url(caller.key), {"name": "app", "tags": "team:root", "node_id": ""})
    caller.key.refresh_from_db()
    assert caller.key.tags == ["team:a"]

    assert desk.get(revoke_url(caller.key)).status_code == 403
    assert desk.post(revoke_url(caller.key)).status_code == 403
    assert desk.post(f"{LIST}{caller.key.pk}/delete/", {"post": "yes"}).status_code == 403
    assert api(caller.secret).get("/api/v1/me").status_code == 200


def test_a_staff_user_without_permissions_and_a_caller_are_refused(make_caller):
    caller = make_caller("caller", name="app")
    bare = get_user_model().objects.create_user("bare", password="pw-bare-123", is_staff=True)
    member = get_user_model().objects.create_user("member", password="pw-member-123")
    staff, user, anonymous = Client(), Client(), Client()
    staff.force_login(bare)
    user.force_login(member)
    for url in (LIST, ADD, change_url(caller.key), revoke_url(caller.key)):
        assert staff.get(url).status_code == 403, url
        for client in (user, anonymous):
            refused = client.get(url)
            assert refused.status_code == 302 and "/admin/login/" in refused["Location"], url
    assert staff.post(revoke_url(caller.key)).status_code == 403
    assert user.post(revoke_url(caller.key)).status_code == 302
    assert api(caller.secret).get("/api/v1/me").status_code == 200


def test_the_admin_is_branded_and_leads_back_to_the_product(root):
    for url in ("/admin/", LIST):
        page = root.get(url).content.decode()
        assert "<title>" in page and "| AgentField Sessions</title>" in page
        assert '<div id="site-name"><a href="/admin/">AgentField Sessions</a>' in page
        assert "Django administration" not in page
        assert '<a href="/">Overview</a>' in page and '<a href="/sessions/">Sessions</a>' in page
    login = Client().get("/admin/login/").content.decode()
    assert "AgentField Sessions" in login and "Django administration" not in login
