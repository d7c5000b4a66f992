import pytest

from access_app.access import AccessAllowed, access_check
from access_app.models import TagDecision, TagStatus, Target, TargetTag
from tests.access_app.harness import NODE, AdminCaller
from tests.factories import node_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def registered(admin):
    response = admin.client().post("/api/v1/nodes/register", node_body(), format="json")
    assert response.status_code == 201
    return response.json()


def approve(admin, body, node=NODE):
    return admin.client().post(f"/api/v1/admin/agents/{node}/approve-tags", body, format="json")


def test_the_pending_list_has_upstreams_shape_with_session_components(admin, registered):
    body = admin.client().get("/api/v1/admin/agents/pending").json()
    assert body["total"] == 1
    agent = body["agents"][0]
    assert agent["agent_id"] == NODE
    assert agent["status"] == "pending_approval"
    assert agent["proposed_tags"] == ["pii:limited", "support", "support:voice"]
    assert agent["approved_tags"] == []
    session = agent["components"]["sessions"][0]
    assert session["id"] == "voice"
    assert session["kind"] == "session"
    assert session["proposed_tags"] == ["pii:limited", "support:voice"]
    assert session["pending_tags"] == ["pii:limited", "support:voice"]
    assert session["approved_tags"] == []
    assert agent["components"]["reasoners"][0]["id"] == "resolve_voice_turn"
    assert admin.client().get("/api/v1/admin/agents/approved").json()["total"] == 0


def test_approve_tags_approves_every_listed_tag_and_moves_the_node(admin, registered):
    response = approve(
        admin, {"approved_tags": ["support", "support:voice", "pii:limited"], "reason": "reviewed"}
    )
    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "message": "Agent tags approved",
        "agent_id": NODE,
        "approved_tags": ["pii:limited", "support", "support:voice"],
    }
    assert admin.client().get("/api/v1/admin/agents/approved").json()["total"] == 1
    decision = TagDecision.objects.filter(tag="pii:limited").get()
    assert decision.actor.startswith("admin (key:")
    assert decision.reason == "reviewed"


def test_a_tag_left_out_of_the_approval_is_rejected_and_closes_its_target(admin, registered):
    approve(admin, {"approved_tags": ["support", "support:voice"]})
    session = Target.objects.get(kind="session")
    assert TargetTag.objects.get(target=session, tag="pii:limited").status == TagStatus.REJECTED
    denial = access_check(caller=AdminCaller(), target=session, input={})
    assert denial.error == "target_tags_rejected"
    reasoner = Target.objects.get(kind="reasoner")
    assert access_check(caller=AdminCaller(), target=reasoner, input={}) == AccessAllowed()


def test_session_tags_approve_exactly_that_session(admin, registered):
    response = approve(
        admin, {"approved_tags": [], "session_tags": {"voice": ["support:voice", "pii:limited"]}}
    )
    assert response.status_code == 200
    assert response.json()["approved_tags"] == ["pii:limited", "support:voice"]
    session = Target.objects.get(kind="session")
    assert access_check(caller=AdminCaller(), target=session, input={}) == AccessAllowed()
    reasoner = Target.objects.get(kind="reasoner")
    assert access_check(caller=AdminCaller(), target=reasoner, input={}).status == 503


def test_reasoner_tags_approve_that_reasoner(admin, registered):
    approve(admin, {"approved_tags": [], "reasoner_tags": {"resolve_voice_turn": ["support"]}})
    reasoner = Target.objects.get(kind="reasoner")
    assert access_check(caller=AdminCaller(), target=reasoner, input={}) == AccessAllowed()


def test_approving_a_node_with_nothing_pending_is_409(admin, registered):
    approve(admin, {"approved_tags": ["support", "support:voice", "pii:limited"]})
    response = approve(admin, {"approved_tags": ["support"]})
    assert response.status_code == 409
    assert response.json()["error"] == "not_pending_approval"
    reject = admin.client().post(f"/api/v1/admin/agents/{NODE}/reject-tags", {}, format="json")
    assert reject.status_code == 409


def test_reject_tags_rejects_everything_pending_with_the_reason(admin, registered):
    response = admin.client().post(
        f"/api/v1/admin/agents/{NODE}/reject-tags", {"reason": "no PII here"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["rejected_tags"] == ["pii:limited", "support", "support:voice"]
    assert set(TagDecision.objects.values_list("reason", flat=True)) == {"no PII here"}


def test_admin_approval_routes_refuse_other_roles_and_unknown_nodes(admin, alice, registered):
    assert alice.client().get("/api/v1/admin/agents/pending").status_code == 403
    assert approve(alice, {"approved_tags": ["support"]}).status_code == 403
    missing = approve(admin, {"approved_tags": []}, node="ghost")
    assert missing.status_code == 404
    assert missing.json() == {"error": "node not found"}


def test_approve_tags_input_is_strict(admin, registered):
    response = approve(admin, {"approved_tags": ["support"], "status": "ready"})
    assert response.status_code == 400
    assert response.json()["fields"] == {"status": ["unknown field"]}
    assert approve(admin, {}).status_code == 400
