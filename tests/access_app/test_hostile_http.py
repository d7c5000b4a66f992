"""Hostile HTTP input: each is a clear 4xx in a JSON error body, never a 500 or HTML."""

from __future__ import annotations

import json

import pytest

from executions_app.models import Execution
from sessions_app.models import SessionInstance
from tests.sessions_app.helpers import VOICE_NODE, session_world, start

pytestmark = pytest.mark.django_db

EXECUTE = "/api/v1/execute/async/support.resolve_voice_turn"
START = f"/api/v1/session-targets/{VOICE_NODE}.voice/start"
DEEP = "[" * 50_000 + "]" * 50_000
NUL_INPUT = '{"input": {"note": "a\\u0000b"}}'


@pytest.fixture
def sid(admin, alice) -> str:
    session_world(admin.client(), transport="websocket")
    return start(alice.client()).json()["session_id"]


def post_raw(caller, url: str, body: str | bytes, content_type: str = "application/json", **kw):
    client = caller.client()
    client.raise_request_exception = False
    return client.post(url, body, content_type=content_type, **kw)


def assert_error(response, status: int, error: str | None = None) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["error"], str)
    if error is not None:
        assert body["error"] == error, body
    return body


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (DEEP, "nest at most 64 levels"),
        (NUL_INPUT, "NUL"),
        ('{"input": {"a": NaN}}', "NaN"),
        ('{"input": {"a": Infinity}}', "Infinity"),
        ('{"input": {"a": -Infinity}}', "Infinity"),
        ('{"input": {"a": 1e999}}', "finite"),
        ('{"input": {"a": [-1e999]}}', "finite"),
        ('{"input": {"a": "x\\ud800"}}', "lone surrogates"),
        ('{"input": {"\\udfff": 1}}', "lone surrogates"),
        (b'{"input": {"a": "\xff"}}', "utf-8"),
        ('{"input": ', "parse error"),
    ],
    ids=[
        "deep-nesting", "nul-in-a-string", "nan", "infinity", "minus-infinity", "1e999",
        "minus-1e999", "lone-surrogate", "lone-surrogate-key", "bad-utf8", "truncated",
    ],
)  # fmt: skip
def test_malformed_json_is_a_400_parse_error_on_our_routes(alice, sid, body, reason):
    response = post_raw(alice, EXECUTE, body)
    assert reason in assert_error(response, 400, "parse_error")["message"]
    assert not Execution.objects.exists()


@pytest.mark.parametrize("body", [DEEP, NUL_INPUT, "{nope"], ids=["deep", "nul", "broken"])
def test_the_upstream_tool_route_keeps_its_invalid_json_error(alice, sid, body):
    url = f"/api/v1/session-instances/{sid}/tools/resolve_voice_turn"
    assert post_raw(alice, url, body).json() == {"error": "invalid JSON body"}
    assert not Execution.objects.exists()


@pytest.mark.parametrize(
    "value", ['"\\u0000"', '"\\ud83d"', "1e999"], ids=["nul", "surrogate", "inf"]
)
def test_unstorable_session_metadata_is_refused_before_the_database(alice, sid, value):
    """A lone surrogate is a 500 on PostgreSQL (jsonb refuses it) without the check."""
    response = post_raw(alice, START, '{"metadata": {"k": ' + value + "}}")
    assert_error(response, 400, "parse_error")
    assert SessionInstance.objects.count() == 1


def test_a_surrogate_pair_is_one_character_and_accepted(alice, sid):
    response = post_raw(alice, START, '{"metadata": {"k": "\\ud83d\\ude00"}}')
    assert response.status_code == 201, response.content
    row = SessionInstance.objects.get(session_id=response.json()["session_id"])
    assert row.metadata == {"k": "\U0001f600"}


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/executions/ab%00cd",
        "/api/v1/session-instances/ab%00cd",
        "/api/v1/nodes/x%00/heartbeat",
        "/api/v1/workflows/w%00/dag",
    ],
)
def test_a_nul_in_the_url_is_a_400(alice, url):
    client = alice.client()
    response = client.post(url, {}, format="json") if "heartbeat" in url else client.get(url)
    assert_error(response, 400, "invalid_request")


def test_a_body_over_the_limit_is_a_413_before_any_view(alice, sid, settings):
    settings.AGENTFIELD_MAX_REQUEST_BYTES = 4096
    body = '{"input": {"a": "' + "x" * 5000 + '"}}'
    response = post_raw(alice, EXECUTE, body)
    assert assert_error(response, 413, "request_too_large")["limit"] == 4096
    tool = post_raw(alice, f"/api/v1/session-instances/{sid}/tools/resolve_voice_turn", body)
    assert_error(tool, 413, "request_too_large")
    assert not Execution.objects.exists()


def test_a_body_read_past_the_limit_without_a_length_is_a_413(alice, sid, settings):
    """Django's own check (``DATA_UPLOAD_MAX_MEMORY_SIZE``) ends in the same body."""
    settings.AGENTFIELD_MAX_REQUEST_BYTES = 10**9
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    url = f"/api/v1/session-instances/{sid}/tools/resolve_voice_turn"
    response = post_raw(alice, url, '{"input": {"a": "' + "x" * 2000 + '"}}')
    assert_error(response, 413, "request_too_large")


@pytest.mark.parametrize(
    "url",
    [EXECUTE, START, "/api/v1/executions/batch-status", "/api/v1/nodes/register"],
)
def test_text_plain_to_a_json_route_is_a_415(alice, admin, sid, url):
    caller = admin if "register" in url else alice
    response = post_raw(caller, url, "hello", content_type="text/plain")
    assert_error(response, 415, "unsupported_media_type")


def test_text_plain_to_the_tool_and_end_routes_is_a_415(alice, sid):
    base = f"/api/v1/session-instances/{sid}"
    for url in (f"{base}/tools/resolve_voice_turn", f"{base}/end"):
        assert_error(post_raw(alice, url, "hi", content_type="text/plain"), 415)
    assert SessionInstance.objects.get(session_id=sid).status == "created"


@pytest.mark.parametrize(
    ("url", "body"),
    [
        (START, {"provider": "openai", "owner": "me"}),
        ("/api/v1/executions/batch-status", {"execution_ids": ["x"], "all": True}),
        (EXECUTE, {"input": {}, "status": "succeeded"}),
    ],
)
def test_unknown_fields_on_strict_serializers_are_named(alice, sid, url, body):
    response = alice.client().post(url, body, format="json")
    error = assert_error(response, 400, "invalid_request")
    unknown = sorted(set(body) - {"provider", "execution_ids", "input"})
    assert error["fields"] == {name: ["unknown field"] for name in unknown}


@pytest.mark.parametrize("body", ["[1, 2]", '"text"', "7"])
def test_a_json_body_that_is_not_an_object_is_a_400(alice, sid, body):
    for url in (EXECUTE, START, f"/api/v1/session-instances/{sid}/end"):
        response = post_raw(alice, url, body)
        assert response.status_code == 400, (url, body, response.content)


@pytest.mark.parametrize(
    ("header", "value"),
    [("HTTP_X_ACTOR_ID", "a" * 201), ("HTTP_X_SESSION_ID", "s" * 101)],
)
def test_overlong_lineage_headers_are_a_400(alice, sid, header, value):
    response = alice.client().post(EXECUTE, {}, format="json", **{header: value})
    assert response.status_code == 400
    assert "at most" in response.json()["error"]


@pytest.mark.parametrize(
    "query", ["page=99999999999999999999", "page=0", "page=x", "status=bogus", "target=a%00b"]
)
def test_bad_list_queries_are_a_400(alice, query):
    response = alice.client().get(f"/api/v1/session-instances?{query}")
    assert_error(response, 400, "invalid_request")


def test_an_unknown_api_route_is_a_json_404(alice):
    response = alice.client().get("/api/v1/no-such-route")
    assert_error(response, 404, "not_found")


async def test_under_asgi_an_oversized_body_is_refused_before_it_is_read(settings):
    from agentfield_site.asgi import application

    settings.AGENTFIELD_MAX_REQUEST_BYTES = 4096
    sent: list[dict] = []

    async def receive():
        raise AssertionError("the body must not be read")

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": EXECUTE,
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"999999999")],
    }
    await application(scope, receive, send)
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["error"] == "request_too_large"


async def test_under_asgi_a_body_without_a_length_is_refused_as_it_passes_the_limit(settings):
    from agentfield_site.asgi import application

    settings.AGENTFIELD_MAX_REQUEST_BYTES = 4096
    chunks_read, sent = [], []

    async def receive():  # a chunked upload of 100 KiB, 1 KiB at a time
        chunks_read.append(1)
        return {"type": "http.request", "body": b"x" * 1024, "more_body": len(chunks_read) < 100}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": EXECUTE,
        "headers": [(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")],
    }
    await application(scope, receive, send)
    assert len(chunks_read) == 5  # the fifth passed the limit; nothing was read after it
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["error"] == "request_too_large"
