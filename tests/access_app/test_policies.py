from dataclasses import dataclass

import pytest
from django.test import override_settings

from access_app.access import AccessAllowed, AccessDenied, access_check
from access_app.models import AccessPolicy, Target
from access_app.services.approvals import target_tags_decide
from tests.factories import node_body

pytestmark = pytest.mark.django_db

POLICIES = "/api/v1/admin/policies"


@dataclass
class Caller:
    tags: tuple[str, ...]
    is_admin: bool = False


def policy(**fields):
    base = {
        "name": f"p{AccessPolicy.objects.count()}",
        "caller_tags": [],
        "target_tags": [],
        "action": "allow",
    }
    return AccessPolicy.objects.create(**(base | fields))


@pytest.fixture
def reasoner(admin):
    admin.client().post(
        "/api/v1/nodes/register",
        node_body(reasoners=[{"id": "refund", "tags": ["billing", "support"]}], sessions=[]),
        format="json",
    )
    target = Target.objects.get(name="refund")
    target_tags_decide(target=target, decision="approved", actor="test")
    return Target.objects.prefetch_related("tag_rows").get(pk=target.pk)


def check(target, tags=("team:support",), params=None):
    return access_check(caller=Caller(tuple(tags)), target=target, input=params or {})


# --- CRUD ----------------------------------------------------------------------------------


def test_policies_can_be_created_listed_read_updated_and_deleted(admin):
    client = admin.client()
    body = {
        "name": "support-calls",
        "caller_tags": ["Team:Support"],
        "target_tags": ["support"],
        "allow_functions": ["refund*"],
        "constraints": {"amount": {"operator": "<=", "value": 100}},
        "action": "allow",
        "priority": 10,
        "description": "support may refund",
    }
    created = client.post(POLICIES, body, format="json")
    assert created.status_code == 201, created.content
    data = created.json()
    assert data["caller_tags"] == ["team:support"]
    assert data["enabled"] is True
    listed = client.get(POLICIES).json()
    assert listed["total"] == 1
    assert listed["policies"][0]["name"] == "support-calls"
    url = f"{POLICIES}/{data['id']}"
    assert client.get(url).json()["priority"] == 10
    updated = client.put(url, body | {"action": "deny", "enabled": False}, format="json")
    assert updated.json()["action"] == "deny"
    assert updated.json()["enabled"] is False
    assert client.delete(url).json() == {"success": True, "message": "Policy deleted"}
    assert client.get(url).status_code == 404


def test_a_bad_action_is_invalid_action(admin):
    body = {"name": "x", "caller_tags": [], "target_tags": [], "action": "maybe"}
    response = admin.client().post(POLICIES, body, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_action",
        "message": "Action must be 'allow' or 'deny'",
    }


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "target_tags": [], "action": "allow"},
        {"name": "x", "caller_tags": [], "target_tags": [], "action": "allow", "owner": "me"},
        {
            "name": "x",
            "caller_tags": [],
            "target_tags": [],
            "action": "allow",
            "constraints": {"amount": {"operator": "~", "value": 1}},
        },
    ],
)
def test_policy_input_is_validated(admin, body):
    response = admin.client().post(POLICIES, body, format="json")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_policy_names_are_unique(admin):
    body = {"name": "dup", "caller_tags": [], "target_tags": [], "action": "allow"}
    admin.client().post(POLICIES, body, format="json")
    response = admin.client().post(POLICIES, body, format="json")
    assert response.status_code == 409


def test_policy_routes_are_admin_only(alice, admin):
    p = policy()
    assert alice.client().get(POLICIES).status_code == 403
    assert alice.client().get(f"{POLICIES}/{p.pk}").status_code == 403
    assert admin.client().get(f"{POLICIES}/{p.pk + 999}").json() == {
        "error": "not_found",
        "message": "policy not found",
    }


# --- Evaluation ----------------------------------------------------------------------------


def test_with_default_deny_no_matching_policy_denies(reasoner):
    result = check(reasoner)
    assert result == AccessDenied(403, "no_policy_matched", "no access policy matches this request")
    assert result.body() == {
        "error": "no_policy_matched",
        "message": "no access policy matches this request",
    }
    refusal = result.api_error()
    assert (refusal.status_code, refusal.body) == (403, result.body())


@override_settings(AGENTFIELD_DEFAULT_DENY=False)
def test_without_default_deny_no_matching_policy_allows(reasoner):
    assert check(reasoner) == AccessAllowed()


def test_a_matching_allow_policy_allows(reasoner):
    policy(name="ok", caller_tags=["team:support"], target_tags=["support"])
    assert check(reasoner) == AccessAllowed("ok")


def test_a_caller_without_the_tags_gets_403(reasoner):
    policy(caller_tags=["team:support"], target_tags=["support"])
    assert check(reasoner, tags=("team:sales",)).status == 403


@pytest.mark.parametrize("pattern", ["*", "team:*", "*:support", "team:support"])
def test_tag_patterns_match(reasoner, pattern):
    policy(caller_tags=[pattern], target_tags=["billing"])
    assert isinstance(check(reasoner), AccessAllowed)


@pytest.mark.parametrize("pattern", ["team:sales", "sales*", "*:sales"])
def test_tag_patterns_do_not_overmatch(reasoner, pattern):
    policy(caller_tags=[pattern])
    assert isinstance(check(reasoner), AccessDenied)


def test_higher_priority_wins_then_lower_id(reasoner):
    policy(name="allow-low", priority=1)
    policy(name="deny-high", priority=5, action="deny")
    assert check(reasoner) == AccessDenied(403, "access_denied", "Access denied by policy")
    AccessPolicy.objects.filter(name="deny-high").update(priority=0)
    assert check(reasoner) == AccessAllowed("allow-low")
    policy(name="deny-same-priority-later-id", priority=1, action="deny")
    assert check(reasoner) == AccessAllowed("allow-low")


def test_deny_functions_deny(reasoner):
    policy(name="no-refunds", deny_functions=["ref*"], priority=9)
    policy(name="fallback")
    assert check(reasoner).error == "access_denied"


def test_allow_functions_that_do_not_match_pass_to_the_next_policy(reasoner):
    policy(name="only-lookup", allow_functions=["lookup"], priority=9)
    assert isinstance(check(reasoner), AccessDenied)
    policy(name="everything", priority=1)
    assert check(reasoner) == AccessAllowed("everything")


@pytest.mark.parametrize(
    ("operator", "value", "amount", "allowed"),
    [
        ("<=", 100, 100, True),
        ("<=", 100, 101, False),
        (">=", 10, 9, False),
        ("==", "eur", "eur", True),
        ("!=", "eur", "eur", False),
        ("<", 5, 4, True),
        (">", 5, 5, False),
        ("<=", 100, "lots", False),
    ],
)
def test_constraints_on_input_params(reasoner, operator, value, amount, allowed):
    policy(constraints={"amount": {"operator": operator, "value": value}})
    result = check(reasoner, params={"amount": amount})
    assert isinstance(result, AccessAllowed) is allowed


def test_constraints_judge_the_payload_itself_not_an_input_object_inside_it(reasoner):
    policy(constraints={"amount": {"operator": "<=", "value": 100}})
    smuggled = {"amount": 1_000_000, "input": {"amount": 1}}
    assert check(reasoner, params=smuggled).error == "access_denied"
    assert isinstance(
        check(reasoner, params={"amount": 5, "input": {"amount": 10**6}}), AccessAllowed
    )


def test_a_missing_constrained_param_denies(reasoner):
    policy(constraints={"amount": {"operator": "<=", "value": 100}})
    assert check(reasoner, params={"other": 1}).error == "access_denied"


def test_disabled_policies_are_skipped(reasoner):
    policy(enabled=False)
    assert check(reasoner).error == "no_policy_matched"


def test_pending_and_rejected_targets_are_refused_before_any_policy(admin):
    admin.client().post("/api/v1/nodes/register", node_body(), format="json")
    policy()
    session = Target.objects.get(kind="session")
    pending = check(session)
    assert (pending.status, pending.error) == (503, "agent_pending_approval")
    target_tags_decide(target=session, decision="rejected", actor="t", tags=["pii:limited"])
    rejected = check(Target.objects.get(pk=session.pk))
    assert (rejected.status, rejected.error) == (403, "target_tags_rejected")


def test_target_tags_are_its_approved_tags_only(admin):
    admin.client().post(
        "/api/v1/nodes/register",
        node_body(reasoners=[{"id": "r", "tags": ["a", "b"]}], sessions=[]),
        format="json",
    )
    target = Target.objects.get(name="r")
    target_tags_decide(target=target, decision="approved", actor="t", tags=["a"])
    policy(target_tags=["b"])
    # b is still pending, so the target is not callable at all
    assert check(Target.objects.get(pk=target.pk)).status == 503
