import pytest
from django.test import override_settings

from access_app.models import AgentNode, TagDecision, TagRule, TagStatus, Target, TargetTag
from tests.access_app.harness import register
from tests.factories import node_body, session_def

pytestmark = pytest.mark.django_db


def test_registration_stores_the_node_and_one_target_per_component(agent):
    body = node_body(skills=[{"id": "lookup_order", "tags": ["orders"]}])
    response = register(agent, body)
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["success"] is True
    assert data["message"] == "Node registered successfully"
    assert data["node_id"] == "voice-support-af"
    assert data["status"] == "pending_approval"
    assert data["pending_tags"] == ["orders", "pii:limited", "support", "support:voice"]
    assert data["approved_tags"] == []
    assert len(data["dispatch_token"]) >= 32
    node = AgentNode.objects.get(node_id="voice-support-af")
    kinds = sorted(node.targets.values_list("kind", "name"))
    assert kinds == [
        ("reasoner", "resolve_voice_turn"),
        ("session", "voice"),
        ("skill", "lookup_order"),
    ]
    session = node.targets.get(kind="session")
    assert session.definition["provider"] == "openai"
    assert session.definition["turn_detection"]["type"] == "server_vad"


def test_sessions_are_accepted_from_metadata_custom_sessions_as_upstreams_sdk_sends(agent):
    session = session_def(transport="websocket", approved_tags=[], metadata={})
    body = node_body(sessions=[], metadata={"custom": {"sessions": [session], "tags": []}})
    body.update(team_id="default", features={}, communication_config={"protocols": ["http"]})
    response = register(agent, body)
    assert response.status_code == 201, response.content
    target = Target.objects.get(kind="session", name="voice")
    assert target.definition["transport"] == "websocket"


def test_top_level_sessions_win_over_metadata(agent):
    body = node_body(
        sessions=[session_def("top")],
        metadata={"custom": {"sessions": [session_def("meta")]}},
    )
    assert register(agent, body).status_code == 201
    assert list(Target.objects.filter(kind="session").values_list("name", flat=True)) == ["top"]


def test_tags_are_trimmed_lowercased_and_deduplicated(agent):
    body = node_body(
        reasoners=[{"id": "r", "tags": [" Support ", "SUPPORT", "billing"]}],
        sessions=[],
        proposed_tags=["Team:Voice"],
    )
    data = register(agent, body).json()
    assert data["pending_tags"] == ["billing", "support", "team:voice"]


@pytest.mark.parametrize(
    ("session", "message"),
    [
        (
            session_def(provider=""),
            "Session provider is required; AgentField does not infer providers.",
        ),
        (
            session_def(transport=" "),
            "Session transport is required; AgentField does not infer transports.",
        ),
        (
            session_def(provider="custom"),
            "Unknown session provider 'custom'. Known providers: openai, openrouter. Register "
            "provider capabilities before using a custom session provider.",
        ),
        (
            session_def(provider="openrouter", transport="webrtc"),
            "Unsupported session transport 'webrtc' for provider 'openrouter'. Supported "
            "transports: audio_turns. AgentField does not infer or switch providers; set "
            "provider and transport explicitly.",
        ),
        (
            session_def(turn_detection={"type": "loud"}),
            "turn_detection.type must be server_vad or semantic_vad",
        ),
        (
            session_def(
                provider="openrouter",
                transport="audio_turns",
                turn_detection={"type": "server_vad"},
            ),
            "turn_detection requires provider=openai and transport=webrtc or websocket",
        ),
    ],
)
def test_an_invalid_session_answers_400_with_the_exact_message(agent, session, message):
    good = session_def("ok")
    response = register(agent, node_body(sessions=[good, session]))
    assert response.status_code == 400
    assert response.json() == {"error": message, "session": "voice"}
    assert not AgentNode.objects.exists()


def test_provider_and_transport_are_normalized(agent):
    body = node_body(sessions=[session_def(provider=" OpenAI", transport="Web-RTC")])
    body["sessions"][0]["transport"] = "WebRTC"
    assert register(agent, body).status_code == 201
    definition = Target.objects.get(kind="session").definition
    assert (definition["provider"], definition["transport"]) == ("openai", "webrtc")


@pytest.mark.parametrize(
    "body",
    [
        {"base_url": "http://127.0.0.1:1"},
        node_body(node_id="has.dot"),
        node_body(base_url="not a url"),
        node_body(reasoners=[{"id": "a.b"}]),
        node_body(reasoners=[{"id": "x"}, {"id": "x"}]),
    ],
)
def test_it_rejects_a_malformed_registration_with_400(agent, body):
    response = register(agent, body)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_an_agent_key_bound_to_another_node_gets_403(make_caller):
    other = make_caller("agent", node_id="other-node")
    response = register(other, node_body())
    assert response.status_code == 403
    assert response.json() == {
        "error": "forbidden",
        "message": "this API key may only act as node 'other-node'",
    }


def test_an_unbound_agent_key_cannot_take_over_a_node_registered_by_another(make_caller):
    first = make_caller("agent")
    second = make_caller("agent")
    assert register(first, node_body()).status_code == 201
    response = register(second, node_body())
    assert response.status_code == 403
    assert "registered by another key" in response.json()["message"]


def test_a_caller_key_may_not_register(alice):
    assert register(alice, node_body()).status_code == 403


def test_an_admin_may_register_any_node(admin):
    assert register(admin, node_body()).status_code == 201


def test_re_registration_keeps_decisions_and_puts_new_tags_up_for_approval(agent, admin):
    first = register(agent, node_body()).json()
    response = admin.client().post(
        "/api/v1/admin/agents/voice-support-af/approve-tags",
        {"approved_tags": first["pending_tags"]},
        format="json",
    )
    assert response.status_code == 200
    again = register(agent, node_body())
    assert again.json()["status"] == "ready"
    assert again.json()["dispatch_token"] != first["dispatch_token"]

    grown = node_body(reasoners=[{"id": "resolve_voice_turn", "tags": ["support", "refunds"]}])
    data = register(agent, grown).json()
    assert data["status"] == "pending_approval"
    assert data["pending_tags"] == ["refunds"]
    assert "support" in data["approved_tags"]
    assert TargetTag.objects.get(tag="support").status == TagStatus.APPROVED


def test_a_target_dropped_on_re_registration_becomes_inactive(agent):
    register(agent, node_body())
    register(agent, node_body(sessions=[]))
    assert Target.objects.get(kind="session", name="voice").active is False
    assert Target.objects.get(kind="reasoner").active is True


@override_settings(AGENTFIELD_TAG_APPROVAL="auto")
def test_auto_mode_approves_every_tag_and_records_the_decision(agent):
    data = register(agent, node_body()).json()
    assert data["status"] == "ready"
    assert data["pending_tags"] == []
    decision = TagDecision.objects.get(tag="pii:limited")
    assert decision.actor == "AGENTFIELD_TAG_APPROVAL"
    assert decision.decision == "approved"


def test_a_forbidden_tag_rejects_the_registration_with_the_upstream_body(agent):
    TagRule.objects.create(pattern="pii:*", mode="forbidden")
    response = register(agent, node_body())
    assert response.status_code == 403
    assert response.json() == {
        "error": "forbidden_tags",
        "message": "Registration rejected: agent proposes forbidden tags",
        "forbidden_tags": ["pii:limited"],
    }
    assert not AgentNode.objects.exists()


def test_tag_rules_auto_approve_matching_tags_and_the_most_specific_rule_wins(agent):
    TagRule.objects.create(pattern="support*", mode="auto")
    TagRule.objects.create(pattern="support:voice", mode="manual")
    TagRule.objects.create(pattern="*", mode="manual")
    data = register(agent, node_body()).json()
    assert data["approved_tags"] == ["support"]
    assert data["pending_tags"] == ["pii:limited", "support:voice"]
    assert TagDecision.objects.get(tag="support").actor == "tag rule 'support*'"


def test_heartbeat_answers_with_the_upstream_body(agent):
    register(agent, node_body())
    response = agent.client().post(
        "/api/v1/nodes/voice-support-af/heartbeat", {"status": "ready"}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["message"] == "heartbeat received"
    assert body["timestamp"]
    node = AgentNode.objects.get()
    assert node.last_heartbeat is not None
    assert node.status == "pending_approval", "a heartbeat never overrides pending approval"


def test_heartbeat_for_an_unknown_or_foreign_node_is_404(agent, make_caller):
    register(agent, node_body())
    stranger = make_caller("agent", node_id="elsewhere")
    for caller, node in ((agent, "nope"), (stranger, "voice-support-af")):
        response = caller.client().post(f"/api/v1/nodes/{node}/heartbeat", {}, format="json")
        assert response.status_code == 404
        assert response.json() == {"error": "node not found"}


def test_nodes_are_visible_to_admins_and_their_own_agent_only(agent, admin, alice, make_caller):
    register(agent, node_body())
    stranger = make_caller("agent", node_id="elsewhere")
    assert admin.client().get("/api/v1/nodes").json()["total"] == 1
    assert agent.client().get("/api/v1/nodes").json()["total"] == 1
    assert stranger.client().get("/api/v1/nodes").json()["total"] == 0
    assert alice.client().get("/api/v1/nodes").json()["total"] == 0
    detail = agent.client().get("/api/v1/nodes/voice-support-af").json()
    assert detail["sessions"][0]["provider"] == "openai"
    assert detail["sessions"][0]["callable"] is False
    assert "dispatch_token" not in str(detail)
    for caller in (stranger, alice):
        response = caller.client().get("/api/v1/nodes/voice-support-af")
        assert response.status_code == 404
        assert response.json() == {"error": "node not found"}


def test_node_detail_carries_upstreams_lifecycle_status_through_approval(agent, admin):
    """Upstream SDKs wait for approval by polling ``lifecycle_status`` until it is not
    ``pending_approval``."""
    register(agent, node_body())
    url = "/api/v1/nodes/voice-support-af"
    assert agent.client().get(url).json()["lifecycle_status"] == "pending_approval"
    proposed = agent.client().get(url).json()["pending_tags"]
    approved = admin.client().post(
        "/api/v1/admin/agents/voice-support-af/approve-tags",
        {"approved_tags": proposed},
        format="json",
    )
    assert approved.status_code == 200, approved.content
    detail = agent.client().get(url).json()
    assert (detail["lifecycle_status"], detail["status"]) == ("ready", "ready")
    assert agent.client().get("/api/v1/nodes").json()["nodes"][0]["lifecycle_status"] == "ready"


def test_shutdown_takes_the_node_offline_as_upstream_and_is_scoped(agent, make_caller):
    register(agent, node_body())
    stranger = make_caller("agent", node_id="elsewhere")
    for caller, node in ((agent, "nope"), (stranger, "voice-support-af")):
        response = caller.client().post(f"/api/v1/nodes/{node}/shutdown", {}, format="json")
        assert (response.status_code, response.json()) == (404, {"error": "node not found"})
    assert AgentNode.objects.get().reported_status == ""
    for body in (None, {"reason": "SIGTERM", "timeout_seconds": 5}):  # what upstream sends
        response = agent.client().post(
            "/api/v1/nodes/voice-support-af/shutdown", body, format="json"
        )
        assert response.status_code == 200, response.content
        assert response.json()["success"] is True
    node = AgentNode.objects.get()
    assert node.reported_status == "offline"
    refused = agent.client().post(
        "/api/v1/nodes/voice-support-af/shutdown", {"now": True}, format="json"
    )
    assert refused.status_code == 400  # strict body
    register(agent, node_body())  # a new start brings it back
    assert AgentNode.objects.get().reported_status == ""


def test_a_registration_body_that_is_no_object_is_a_400(agent):
    response = register(agent, [node_body()])
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "invalid_request"
