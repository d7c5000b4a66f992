"""Starting sessions and the instance routes: upstream's errors, scoping, the log."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from access_app.models import Target
from executions_app.models import Execution
from sessions_app.models import SessionEvent, SessionInstance, hash_client_secret
from tests.sessions_app.helpers import VOICE_NODE, register_voice_node, session_world, start

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(admin):
    session_world(admin.client(), transport="websocket")


def secret_client(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def test_it_starts_a_session_with_every_field_of_the_contract(alice, world):
    response = start(alice.client())
    assert response.status_code == 201, response.content
    body = response.json()
    sid = body["session_id"]
    assert sid.startswith("sess_") and len(sid.rsplit("_", 1)[1]) == 16
    assert list(body)[:9] == [
        "session_id", "target", "provider", "transport", "model", "voice", "modalities",
        "tags", "tool_targets",
    ]  # fmt: skip
    assert body["target"] == f"{VOICE_NODE}.voice"
    assert (body["provider"], body["transport"]) == ("openai", "websocket")
    assert body["tags"] == ["pii:limited", "support:voice"]
    assert body["tool_targets"] == {"resolve_voice_turn": "support.resolve_voice_turn"}
    assert body["tool_url"] == f"/api/v1/session-instances/{sid}/tools/{{tool}}"
    assert body["ws_url"] == f"/api/v1/session-instances/{sid}/realtime"
    assert "offer_url" not in body and "turns_url" not in body
    assert body["status"] == "created"
    assert body["events_url"] == f"/api/v1/session-instances/{sid}/events"
    assert body["stream_url"] == f"/api/v1/session-instances/{sid}/events/stream"
    secret = body["client_secret"]["value"]
    row = SessionInstance.objects.get(session_id=sid)
    assert row.client_secret_hash == hash_client_secret(secret)
    assert secret not in str(row.__dict__)
    assert row.owner == f"key:{alice.key.pk}"
    assert SessionEvent.objects.filter(session=row, type="session.created").exists()


def test_a_webrtc_session_answers_with_its_offer_url(alice, admin):
    session_world(admin.client())
    body = start(alice.client()).json()
    assert body["offer_url"] == f"/api/v1/session-instances/{body['session_id']}/realtime-offer"
    assert "ws_url" not in body


@pytest.mark.parametrize(
    ("target", "status", "error"),
    [
        ("nodot", 400, "session target must be <node>.<session>"),
        (".voice", 400, "session target must be <node>.<session>"),
        ("ghost.voice", 404, "agent not found"),
        ("support.voice", 404, "agent has no registered sessions"),
        (f"{VOICE_NODE}.other", 404, "session not registered"),
    ],
)
def test_it_refuses_bad_targets_with_upstreams_errors(alice, world, target, status, error):
    response = start(alice.client(), target)
    assert response.status_code == status
    assert response.json() == {"error": error}


def test_it_refuses_an_unknown_provider_with_upstreams_message(alice, world):
    response = start(alice.client(), body={"provider": "custom"})
    assert response.status_code == 400
    assert response.json() == {
        "error": "Unknown session provider 'custom'. Known providers: openai, openrouter. "
        "Register provider capabilities before using a custom session provider.",
        "provider": "custom",
        "transport": "websocket",
    }


def test_it_refuses_an_unsupported_pair_before_the_mismatch(alice, world):
    response = start(alice.client(), body={"provider": "openrouter"})
    assert response.status_code == 400
    assert response.json()["error"].startswith(
        "Unsupported session transport 'websocket' for provider 'openrouter'."
    )


def test_a_client_cannot_switch_the_registered_transport(alice, world):
    response = start(alice.client(), body={"transport": "WebRTC"})
    assert response.status_code == 400
    assert response.json() == {
        "error": f"session {VOICE_NODE}.voice is registered for provider=openai "
        "transport=websocket; requested provider=openai transport=webrtc"
    }


def test_restating_the_registered_pair_is_fine(alice, world):
    response = start(alice.client(), body={"provider": "OpenAI", "transport": "websocket"})
    assert response.status_code == 201


def test_access_is_checked_against_the_session_targets_tags(bob, world):
    response = start(bob.client())
    assert response.status_code == 403
    assert response.json()["error"] == "no_policy_matched"
    assert not SessionInstance.objects.exists()


def test_a_pending_session_target_is_503(alice, admin):
    register_voice_node(admin.client(), approve=False)
    response = start(alice.client())
    assert response.status_code == 503
    assert response.json()["error"] == "agent_pending_approval"


def test_a_handler_session_needs_a_connected_link(alice, admin):
    session_world(admin.client(), transport="websocket", handler=True)
    response = start(alice.client())
    assert response.status_code == 503
    assert response.json() == {"error": f"session handler for {VOICE_NODE}.voice is not connected"}


def test_unknown_start_fields_are_refused(alice, world):
    response = start(alice.client(), body={"status": "active"})
    assert response.status_code == 400


def test_the_startable_targets_depend_on_the_caller(alice, bob, world):
    listed = alice.client().get("/api/v1/session-targets").json()
    assert [t["target"] for t in listed["targets"]] == [f"{VOICE_NODE}.voice"]
    assert bob.client().get("/api/v1/session-targets").json()["targets"] == []


def test_the_starter_reads_lists_and_ends_and_another_caller_gets_404(alice, bob, admin, world):
    sid = start(alice.client()).json()["session_id"]
    url = f"/api/v1/session-instances/{sid}"
    got = alice.client().get(url).json()
    assert got["status"] == "created"
    assert got["stats"] == {"turns": 0, "tool_calls": 0, "audio_in_ms": 0, "audio_out_ms": 0}
    for method, path in [("get", ""), ("post", "/end"), ("get", "/events"), ("post", "/tools/x")]:
        response = getattr(bob.client(), method)(url + path, {}, format="json")
        assert response.status_code == 404, path
        assert response.json() == {"error": "session not found"}
    assert bob.client().get("/api/v1/session-instances").json()["total"] == 0
    assert alice.client().get("/api/v1/session-instances").json()["total"] == 1
    assert admin.client().get(url).status_code == 200
    ended = alice.client().post(f"{url}/end", {"reason": "done"}, format="json")
    assert ended.status_code == 200
    assert ended.json()["status"] == "ended" and ended.json()["end_reason"] == "done"
    again = alice.client().post(f"{url}/end", {}, format="json")
    assert again.json()["end_reason"] == "done"  # idempotent
    types = [e["type"] for e in alice.client().get(f"{url}/events").json()["events"]]
    assert types == ["session.created", "session.ended"]


def test_the_list_filters_by_status_and_target(alice, world):
    first = start(alice.client()).json()["session_id"]
    start(alice.client())
    alice.client().post(f"/api/v1/session-instances/{first}/end", {}, format="json")
    listed = alice.client().get("/api/v1/session-instances?status=ended").json()
    assert [s["session_id"] for s in listed["sessions"]] == [first]
    other = alice.client().get("/api/v1/session-instances?target=x.y").json()
    assert other["total"] == 0
    assert alice.client().get("/api/v1/session-instances?status=bogus").status_code == 400


def test_a_client_secret_works_only_for_its_own_session(alice, world):
    one = start(alice.client()).json()
    two = start(alice.client()).json()
    client = secret_client(one["client_secret"]["value"])
    assert client.get(f"/api/v1/session-instances/{one['session_id']}").status_code == 200
    assert client.get(f"/api/v1/session-instances/{two['session_id']}").status_code == 404
    assert client.get("/api/v1/session-instances").status_code == 401
    assert client.get("/api/v1/executions/x").status_code == 401
    client.post(f"/api/v1/session-instances/{one['session_id']}/end", {}, format="json")
    assert client.get(f"/api/v1/session-instances/{one['session_id']}").status_code == 401


def test_events_page_with_after(alice, world):
    sid = start(alice.client()).json()["session_id"]
    url = f"/api/v1/session-instances/{sid}/events"
    first = alice.client().get(url).json()
    assert len(first["events"]) == 1
    assert alice.client().get(f"{url}?after={first['next_after']}").json() == {
        "events": [],
        "next_after": first["next_after"],
    }
    assert alice.client().get(f"{url}?after=-1").status_code == 400


def test_tool_calls_enforce_the_allowlist_with_upstreams_errors(alice, world):
    sid = start(alice.client()).json()["session_id"]
    url = f"/api/v1/session-instances/{sid}/tools"
    denied = alice.client().post(f"{url}/delete_everything", {}, format="json")
    assert denied.status_code == 403
    assert denied.json() == {
        "error": f"tool 'delete_everything' is not allowed for session {VOICE_NODE}.voice. "
        "Allowed: support.resolve_voice_turn"
    }
    other_node = alice.client().post(
        f"{url}/resolve_voice_turn", {"target": "evil.resolve_voice_turn"}, format="json"
    )
    assert other_node.status_code == 403
    bad_json = alice.client().post(
        f"{url}/resolve_voice_turn", "{nope", content_type="application/json"
    )
    assert (bad_json.status_code, bad_json.json()) == (400, {"error": "invalid JSON body"})
    no_dot = alice.client().post(f"{url}/x", {"target": "nodot"}, format="json")
    assert no_dot.json() == {"error": "session tool target must be <node>.<reasoner>"}
    assert not Execution.objects.exists()


def test_a_tool_call_runs_as_an_execution_with_the_session_attached(alice, world):
    sid = start(alice.client()).json()["session_id"]
    for tool, body in [
        ("resolve_voice_turn", {"input": {"turn": "where is my order"}}),
        ("support.resolve_voice_turn", {}),
        ("anything", {"target": "support.resolve_voice_turn", "input": {}}),
    ]:
        response = alice.client().post(
            f"/api/v1/session-instances/{sid}/tools/{tool}", body, format="json"
        )
        assert response.status_code == 202, response.content
        assert response.json()["session_id"] == sid
    execution = Execution.objects.order_by("created_at").first()
    assert execution.session_id == sid
    assert execution.caller_tags == ["pii:limited", "support:voice"]
    assert execution.actor_id == f"key:{alice.key.pk}"
    assert execution.input == {"turn": "where is my order"}
    session = SessionInstance.objects.get(session_id=sid)
    assert session.tool_calls == 3
    calls = SessionEvent.objects.filter(session=session, type="tool.call")
    assert [c.data["target"] for c in calls] == ["support.resolve_voice_turn"] * 3
    assert calls[0].execution_id == execution.execution_id
    # the starter can read the execution the session made
    assert alice.client().get(f"/api/v1/executions/{execution.execution_id}").status_code == 200


def test_the_client_secret_can_call_tools_and_an_ended_session_is_410(alice, world):
    started = start(alice.client()).json()
    client = secret_client(started["client_secret"]["value"])
    url = f"/api/v1/session-instances/{started['session_id']}"
    assert client.post(f"{url}/tools/resolve_voice_turn", {}, format="json").status_code == 202
    alice.client().post(f"{url}/end", {}, format="json")
    gone = alice.client().post(f"{url}/tools/resolve_voice_turn", {}, format="json")
    assert gone.status_code == 410
    assert gone.json() == {"error": f"session {started['session_id']} is ended"}


def test_the_sessions_tags_not_the_starters_decide_tool_access(admin, world):
    """Even an admin's session is held to the policies, with the session's tags."""
    Target.objects.filter(node__node_id="support").update()
    from access_app.models import AccessPolicy

    AccessPolicy.objects.filter(name="voice-sessions-call-support").delete()
    sid = start(admin.client()).json()["session_id"]
    response = admin.client().post(
        f"/api/v1/session-instances/{sid}/tools/resolve_voice_turn", {}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["error"] == "no_policy_matched"


@pytest.fixture
def voice_node_key(make_caller):
    return make_caller("agent", node_id=VOICE_NODE, name="voice agent")


def execute_in_session(caller, sid, target="support.resolve_voice_turn"):
    return caller.client().post(
        f"/api/v1/execute/async/{target}",
        {"input": {"turn": {"text": "hi"}}},
        format="json",
        HTTP_X_SESSION_ID=sid,
    )


def test_the_handlers_session_call_is_a_tool_call_of_the_session(alice, world, voice_node_key):
    sid = start(alice.client()).json()["session_id"]
    response = execute_in_session(voice_node_key, sid)
    assert response.status_code == 202, response.content
    execution = Execution.objects.get(execution_id=response.json()["execution_id"])
    assert execution.session_id == sid
    assert execution.caller_tags == ["pii:limited", "support:voice"]  # the session's, not the key's
    assert execution.actor_id == execution.owner == f"key:{alice.key.pk}"
    call = SessionEvent.objects.get(session__session_id=sid, type="tool.call")
    assert call.execution_id == execution.execution_id and call.data["by"] == "handler"
    # the starter sees it like any tool call of their session
    assert alice.client().get(f"/api/v1/executions/{execution.execution_id}").status_code == 200


def test_the_handlers_calls_are_held_to_the_policies_not_the_allowlist(
    alice, admin, world, voice_node_key
):
    """The allowlist is the model's; the handler reaches any target the policies let the
    session's tags call, and nothing once the session is over."""
    from access_app.models import AccessPolicy
    from tests.factories import register_approved_node

    register_approved_node(admin.client(), "billing", "http://127.0.0.1:9", ["refund"], ["billing"])
    sid = start(alice.client()).json()["session_id"]
    unlisted = execute_in_session(voice_node_key, sid, "billing.refund")
    assert unlisted.status_code == 403
    assert unlisted.json()["error"] == "no_policy_matched"  # the policies decide, with its tags
    AccessPolicy.objects.create(
        name="voice-calls-billing", caller_tags=["support:voice"], target_tags=["billing"],
        action="allow",
    )  # fmt: skip
    allowed = execute_in_session(voice_node_key, sid, "billing.refund")
    assert allowed.status_code == 202, allowed.content
    execution = Execution.objects.get(execution_id=allowed.json()["execution_id"])
    assert (execution.session_id, execution.actor_id) == (sid, f"key:{alice.key.pk}")
    assert execution.caller_tags == ["pii:limited", "support:voice"]
    call = SessionEvent.objects.get(session__session_id=sid, type="tool.call")
    assert (call.data["target"], call.data["by"]) == ("billing.refund", "handler")
    # the same target stays refused to the model's and the REST route's calls
    rest = alice.client().post(
        f"/api/v1/session-instances/{sid}/tools/refund", {"target": "billing.refund"}, format="json"
    )
    assert rest.status_code == 403
    assert rest.json()["error"].startswith("tool 'refund' is not allowed for session")
    alice.client().post(f"/api/v1/session-instances/{sid}/end", {}, format="json")
    gone = execute_in_session(voice_node_key, sid)
    assert (gone.status_code, gone.json()) == (410, {"error": f"session {sid} is ended"})
    assert Execution.objects.count() == 1


def test_a_session_without_tools_says_so_when_a_tool_is_refused(alice, admin):
    session_world(admin.client(), transport="websocket", tools=[])
    sid = start(alice.client()).json()["session_id"]
    denied = alice.client().post(
        f"/api/v1/session-instances/{sid}/tools/resolve_voice_turn", {}, format="json"
    )
    assert denied.status_code == 403
    assert denied.json() == {
        "error": f"tool 'resolve_voice_turn' is not allowed for session {VOICE_NODE}.voice. "
        "This session allows no tools."
    }
