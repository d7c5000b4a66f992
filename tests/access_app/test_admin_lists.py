"""Tag and policy lists in the Django admin are typed as text (one per line or comma
separated), checked item by item and stored as lists, and the stored policy decides."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client

from access_app.access import evaluate_policies
from access_app.models import AccessPolicy, CallerProfile
from access_app.principals import Principal

pytestmark = pytest.mark.django_db

POLICIES = "/admin/access_app/accesspolicy/"
POLICY = {
    "name": "team-a-orders",
    "description": "",
    "enabled": "on",
    "caller_tags": "team:a, team:ops*",
    "target_tags": "orders\n*:voice",
    "action": "allow",
    "priority": "10",
    "allow_functions": "lookup_*",
    "deny_functions": "lookup_secret",
    "constraints": 'amount <= 100\ntier == "gold"',
}


@pytest.fixture
def root(client) -> Client:
    user = get_user_model().objects.create_superuser("root", password="pw-root-123")
    client.force_login(user)
    return client


def decide(function: str, params: dict, caller_tags=("team:a",), target_tags=("orders",)):
    return evaluate_policies(
        list(AccessPolicy.objects.all()),
        caller_tags=list(caller_tags),
        target_tags=list(target_tags),
        function=function,
        params=params,
    ).action


def test_a_policy_typed_as_lists_is_stored_as_lists_and_decides_as_typed(root):
    form = root.get(f"{POLICIES}add/").content.decode()
    assert "the first that applies decides" in form, "the page says how policies match"
    response = root.post(f"{POLICIES}add/", POLICY)
    assert response.status_code == 302, response.content[:3000]

    policy = AccessPolicy.objects.get(name="team-a-orders")
    assert policy.caller_tags == ["team:a", "team:ops*"]
    assert policy.target_tags == ["*:voice", "orders"]
    assert policy.allow_functions == ["lookup_*"]
    assert policy.deny_functions == ["lookup_secret"]
    assert policy.constraints == {
        "amount": {"operator": "<=", "value": 100},
        "tier": {"operator": "==", "value": "gold"},
    }
    ok = {"amount": 50, "tier": "gold"}
    assert decide("lookup_order", ok) == "allow"
    assert decide("lookup_order", ok, caller_tags=["team:ops-eu"], target_tags=["x:voice"]) == (
        "allow"
    )
    assert decide("lookup_order", {"amount": 500, "tier": "gold"}) == "deny"
    assert decide("lookup_secret", ok) == "deny", "a deny function beats the allow"
    assert decide("refund", ok) is None, "allow functions that do not match: next policy"
    assert decide("lookup_order", ok, caller_tags=["team:b"]) is None

    # Shown again as text, and saved unchanged.
    page = root.get(f"{POLICIES}{policy.pk}/change/").content.decode()
    assert "team:a\nteam:ops*</textarea>" in page
    assert "amount &lt;= 100\ntier == &quot;gold&quot;</textarea>" in page


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("caller_tags", "team:a,,team:b", "an empty item"),
        ("caller_tags", "team a", "no spaces"),
        ("target_tags", "*mid*", "* goes alone"),
        ("target_tags", "a*b", "* goes alone"),
        ("target_tags", "orders!", "use letters, digits"),
        ("allow_functions", "lookup order", "no spaces"),
        ("constraints", "amount => 100", "write &#x27;parameter operator value&#x27;"),
        ("constraints", "amount <= 1\namount >= 0", "constrained twice"),
    ],
)
def test_bad_list_input_is_refused_and_nothing_is_saved(root, field, value, says):
    response = root.post(f"{POLICIES}add/", {**POLICY, field: value})
    assert response.status_code == 200
    assert says in response.content.decode()
    assert not AccessPolicy.objects.exists()


def test_empty_lists_mean_any_and_are_stored_empty(root):
    body = {**POLICY, "caller_tags": "", "target_tags": "\n\n", "allow_functions": ""}
    body.update(deny_functions="", constraints="")
    assert root.post(f"{POLICIES}add/", body).status_code == 302
    policy = AccessPolicy.objects.get()
    assert (policy.caller_tags, policy.target_tags, policy.constraints) == ([], [], {})
    assert root.get(POLICIES).content.decode().count(">any</td>") == 2


def user_form(user, tags: str) -> dict:
    """The user change form as the admin posts it, with the caller-tags inline."""
    profile = CallerProfile.objects.filter(user=user).first()
    return {
        "username": user.username,
        "first_name": "",
        "last_name": "",
        "email": "",
        "is_active": "on",
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        "caller_profile-TOTAL_FORMS": "1",
        "caller_profile-INITIAL_FORMS": "1" if profile else "0",
        "caller_profile-MIN_NUM_FORMS": "0",
        "caller_profile-MAX_NUM_FORMS": "1",
        "caller_profile-0-id": str(profile.pk) if profile else "",
        "caller_profile-0-user": str(user.pk),
        "caller_profile-0-tags": tags,
    }


def test_a_users_caller_tags_are_edited_as_a_list(root):
    member = get_user_model().objects.create_user("member", password="pw-member-123")
    url = f"/admin/auth/user/{member.pk}/change/"
    response = root.post(url, user_form(member, "Team:A\nsupport, team:a"))
    assert response.status_code == 302, response.content[:3000]
    member.refresh_from_db()
    assert member.caller_profile.tags == ["support", "team:a"]
    assert Principal.from_user(member).tags == ("support", "team:a")
    assert "support, team:a" in root.get("/admin/auth/user/").content.decode()

    refused = root.post(url, user_form(member, "team a"))
    assert refused.status_code == 200 and "no spaces" in refused.content.decode()
    assert CallerProfile.objects.get(user=member).tags == ["support", "team:a"]


def test_a_staff_user_without_the_policy_permission_is_refused(root):
    desk = get_user_model().objects.create_user("desk", password="pw-desk-123", is_staff=True)
    desk.user_permissions.set(Permission.objects.filter(codename="view_apikey"))
    client = Client()
    client.force_login(desk)
    assert client.get(POLICIES).status_code == 403
    assert client.post(f"{POLICIES}add/", POLICY).status_code == 403
    assert not AccessPolicy.objects.exists()
