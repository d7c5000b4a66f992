"""A node against a scripted control plane: registration, approval, its HTTP server, calls."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest

from agentfield import Agent, ExecutionError, RegistrationRefused, current_context
from tests.agentfield_sdk.fake_control_plane import FakeControlPlane, eventually


def make_agent(plane: FakeControlPlane, node_id: str = "support", **options) -> Agent:
    options.setdefault("heartbeat_interval", 0.05)
    options.setdefault("approval_poll_interval", 0.05)
    return Agent(node_id, server=plane.url, api_key=plane.api_key, **options)


async def test_a_pending_node_says_what_it_waits_for_and_becomes_ready_on_approval(plane, caplog):
    caplog.set_level(logging.INFO, logger="agentfield")
    plane.status, plane.pending_tags = "pending_approval", ["support"]
    app = make_agent(plane)

    @app.reasoner(tags=["support"])
    async def resolve(turn: dict) -> dict:
        return {}

    starting = asyncio.create_task(app.start())
    await eventually(lambda: "waiting for tag approval: support" in caplog.text)
    await eventually(lambda: len(plane.requests_to("/api/v1/nodes/support")) >= 2)
    assert not starting.done()
    plane.status, plane.pending_tags = "ready", []
    await asyncio.wait_for(starting, 5)
    assert app.ready.is_set()
    [register] = plane.requests_to("/register")
    assert register.headers["X-API-Key"] == plane.api_key
    assert register.body["reasoners"][0]["id"] == "resolve"
    assert register.body["base_url"] == app.base_url
    await eventually(lambda: len(plane.requests_to("/heartbeat")) >= 2)
    assert plane.requests_to("/heartbeat")[0].body["status"] == "ready"
    assert plane.links_opened == 0  # no session handlers, no link
    await app.stop()
    assert plane.requests_to("/heartbeat")[-1].body["status"] == "offline"
    assert plane.api_key not in caplog.text and plane.dispatch_token not in caplog.text


async def test_a_node_with_rejected_tags_says_which_targets_cannot_be_called(plane, caplog):
    plane.node_extra = {"reasoners": [{"id": "resolve", "rejected_tags": ["pii"]}]}
    app = make_agent(plane)

    @app.reasoner
    async def resolve(turn: dict) -> dict:
        return turn

    await app.start()
    assert "support: reasoner resolve cannot be called: tags rejected: pii" in caplog.text
    await app.stop()


async def test_the_node_serves_calls_only_with_its_dispatch_token(plane):
    app = make_agent(plane)
    seen = {}

    @app.reasoner
    async def resolve(turn: dict, loud: bool = False) -> dict:
        seen["context"] = current_context()
        if turn.get("boom"):
            raise KeyError("no such order")
        return {"echo": turn["text"].upper() if loud else turn["text"]}

    @app.skill
    def add(a: int, b: int) -> int:
        return a + b

    await app.start()
    url = app.base_url
    good = {"Authorization": f"Bearer {plane.dispatch_token}", "X-Execution-ID": "exec_1"}
    async with httpx.AsyncClient(base_url=url) as client:
        body = {"turn": {"text": "hi"}}
        assert (await client.post("/reasoners/resolve", json=body)).status_code == 401
        for auth in ("x", "Bearer nope", f"Basic {plane.dispatch_token}"):
            headers = {"Authorization": auth}
            denied = await client.post("/reasoners/resolve", json=body, headers=headers)
            assert denied.status_code == 401
        ok = await client.post("/reasoners/resolve", json=body, headers=good)
        assert (ok.status_code, ok.json()) == (200, {"echo": "hi"})
        assert seen["context"].execution_id == "exec_1"
        wrapped = {"input": {"turn": {"text": "hi"}, "loud": True}}
        assert (await client.post("/reasoners/resolve", json=wrapped, headers=good)).json() == {
            "echo": "HI"
        }
        assert (await client.post("/skills/add", json={"a": 2, "b": 3}, headers=good)).json() == 5
        bad = await client.post("/reasoners/resolve", json={"turn": {}, "x": 1}, headers=good)
        assert bad.status_code == 400 and bad.json()["error"] == "invalid_input"
        failed = await client.post("/reasoners/resolve", json={"turn": {"boom": 1}}, headers=good)
        assert failed.status_code == 422
        assert failed.json() == {"error": "reasoner_failed", "message": "KeyError: 'no such order'"}
        missing = await client.post("/reasoners/nope", json={}, headers=good)
        assert missing.status_code == 404
        assert (await client.get("/health")).json() == {"status": "ok", "node_id": "support"}
    await app.stop()


async def test_a_nested_call_joins_the_callers_workflow_and_session(plane):
    app = make_agent(plane)

    @app.reasoner
    async def outer(order: str) -> dict:
        return await app.call("support.inner", order=order)

    plane.execute_reply = lambda target, body, headers: (
        200,
        {"execution_id": "exec_child", "status": "succeeded", "result": {"got": body["input"]}},
    )
    await app.start()
    headers = {
        "Authorization": f"Bearer {plane.dispatch_token}",
        "X-Execution-ID": "exec_parent",
        "X-Run-ID": "run_1",
        "X-Session-ID": "sess_1",
    }
    async with httpx.AsyncClient(base_url=app.base_url) as client:
        answer = await client.post("/reasoners/outer", json={"order": "1042"}, headers=headers)
    assert answer.json() == {"got": {"order": "1042"}}
    [call] = plane.requests_to("/execute/support.inner")
    assert call.body == {"input": {"order": "1042"}}
    assert call.headers["X-Parent-Execution-ID"] == "exec_parent"
    assert call.headers["X-Run-ID"] == "run_1"
    assert call.headers["X-Session-ID"] == "sess_1"
    assert call.headers["X-API-Key"] == plane.api_key
    await app.stop()


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (
            200,
            {"execution_id": "exec_f", "status": "failed", "error_message": "agent answered 422"},
            ("exec_f", "failed", 200, "agent answered 422"),
        ),
        (
            504,
            {
                "error": "execution_timeout",
                "message": "did not finish",
                "execution_id": "exec_t",
                "status": "running",
            },
            ("exec_t", "running", 504, "calling support.x failed (504): did not finish"),
        ),
        (
            403,
            {"error": "no_policy_matched", "message": "no access policy matches this request"},
            (
                None,
                "refused",
                403,
                "calling support.x failed (403): no access policy matches this request",
            ),
        ),
    ],
)
async def test_a_failed_call_raises_a_typed_execution_error(plane, status, body, expected):
    plane.execute_reply = lambda *_: (status, body)
    app = make_agent(plane)
    with pytest.raises(ExecutionError) as raised:
        await app.call("support.x", {"a": 1})
    error = raised.value
    assert (error.execution_id, error.status, error.http_status, error.message) == expected
    assert plane.api_key not in str(error)
    await app.stop()


async def test_a_refused_registration_stops_the_start_with_the_reason(plane):
    app = Agent("support", server=plane.url, api_key="af_wrong_key")
    with pytest.raises(RegistrationRefused) as raised:
        await app.start()
    assert raised.value.status == 401
    assert "af_wrong_key" not in str(raised.value)
    await app.stop()


def test_run_exits_with_a_message_when_the_node_has_no_key(monkeypatch, caplog):
    monkeypatch.delenv("AGENTFIELD_API_KEY", raising=False)
    with pytest.raises(SystemExit) as raised:
        Agent("support").run(port=0)
    assert raised.value.code == 1
    assert "no API key for node support" in caplog.text


async def test_an_unreachable_control_plane_is_an_execution_error_too(plane):
    app = Agent("support", server="http://127.0.0.1:9", api_key="af_secret_value")
    with pytest.raises(ExecutionError) as raised:
        await app.call("support.x")
    assert raised.value.status == "unreachable"
    assert "af_secret_value" not in str(raised.value)
    await app.stop()
