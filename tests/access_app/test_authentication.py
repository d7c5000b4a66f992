import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from rest_framework.test import APIClient

from access_app.models import ApiKey, CallerProfile
from access_app.services.api_keys import api_key_revoke
from foundation.errors import UNAUTHORIZED_BODY

pytestmark = pytest.mark.django_db

EXACT_401 = {
    "error": "unauthorized",
    "message": "invalid or missing API key. Provide via X-API-Key header or "
    "Authorization: Bearer <token>",
}


def test_the_401_body_is_upstreams_byte_for_byte():
    assert UNAUTHORIZED_BODY == EXACT_401


def test_it_accepts_the_x_api_key_header(alice):
    response = alice.client().get("/api/v1/me")
    assert response.status_code == 200
    assert response.json() == {
        "id": f"key:{alice.key.pk}",
        "role": "caller",
        "name": "alice",
        "tags": ["team:a"],
        "node_id": "",
    }


def test_it_accepts_an_authorization_bearer_header(alice):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {alice.secret}")
    assert client.get("/api/v1/me").json()["name"] == "alice"


def test_it_answers_401_with_the_upstream_body_when_the_key_is_missing(anon):
    response = anon.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json() == EXACT_401


@pytest.mark.parametrize(
    "bad",
    ["nonsense", "af_00000000_wrong", "Bearer", ""],
)
def test_it_answers_401_for_a_wrong_key(alice, bad):
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=bad or " ")
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json() == EXACT_401


def test_a_right_prefix_with_a_wrong_secret_is_refused(alice):
    forged = f"af_{alice.key.prefix}_{'x' * 43}"
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=forged)
    assert client.get("/api/v1/me").status_code == 401


def test_a_revoked_key_is_refused(alice):
    api_key_revoke(key=alice.key)
    response = alice.client().get("/api/v1/me")
    assert response.status_code == 401
    assert response.json() == EXACT_401


def test_a_caller_key_gets_403_on_an_admin_route(alice, admin):
    response = alice.client().get("/api/v1/admin/api-keys")
    assert response.status_code == 403
    assert response.json() == {"error": "forbidden", "message": "this route requires role admin"}
    assert admin.client().get("/api/v1/admin/api-keys").status_code == 200


def test_keys_are_stored_hashed_and_listed_without_secrets(admin, alice):
    row = ApiKey.objects.get(pk=alice.key.pk)
    assert alice.secret not in (row.key_hash, row.prefix)
    assert alice.secret.startswith(f"af_{row.prefix}_")
    body = admin.client().get("/api/v1/admin/api-keys").json()
    assert body["total"] == 2
    assert alice.secret not in str(body)
    assert row.key_hash not in str(body)


def test_create_api_key_prints_the_key_alone_on_its_last_line():
    out = io.StringIO()
    call_command(
        "create_api_key",
        "--name",
        "node",
        "--role",
        "agent",
        "--tags",
        "A, b",
        "--node",
        "n1",
        stdout=out,
    )
    key = out.getvalue().strip().splitlines()[-1]
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=key)
    body = client.get("/api/v1/me").json()
    assert body == {
        "id": body["id"],
        "role": "agent",
        "name": "node",
        "tags": ["a", "b"],
        "node_id": "n1",
    }


def test_create_api_key_refuses_a_node_binding_on_a_caller_key():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="only agent keys"):
        call_command("create_api_key", "--name", "x", "--role", "caller", "--node", "n1")


def test_a_logged_in_browser_user_acts_with_the_tags_on_their_profile():
    user = get_user_model().objects.create_user("carol", password="pw-carol-123")
    CallerProfile.objects.create(user=user, tags=["support:voice"])
    client = APIClient()
    client.force_login(user)
    body = client.get("/api/v1/me").json()
    assert body["id"] == f"user:{user.pk}"
    assert body["role"] == "caller"
    assert body["tags"] == ["support:voice"]


def test_a_superuser_acts_as_admin_and_is_staff_alone_does_not():
    staff = get_user_model().objects.create_user("staff2", password="pw", is_staff=True)
    client = APIClient()
    client.force_login(staff)
    assert client.get("/api/v1/me").json()["role"] == "caller"
    assert client.get("/api/v1/admin/api-keys").status_code == 403
    root = get_user_model().objects.create_superuser("root2", password="pw")
    client.force_login(root)
    assert client.get("/api/v1/me").json()["role"] == "admin"
    assert client.get("/api/v1/admin/api-keys").status_code == 200
