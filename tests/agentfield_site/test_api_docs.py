"""``/api/docs/`` reads as documentation: every operation has a summary, a description, a
declared group, the errors its view can answer (with the error body and an example) and
real examples that match the schema and pass the request serializers; the WebSocket routes
are described; placeholders such as `<node_id>.<session>` reach the page literally."""

from __future__ import annotations

import json
import re
from functools import cache
from http import HTTPStatus

import jsonschema
import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import resolve
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from referencing import Registry, Resource
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.test import APIClient

from agentfield_site.routing import websocket_urlpatterns
from tests.browser import ARTIFACTS, chromium_page, wait_until
from tests.servers import daphne_server

METHODS = {"get", "post", "put", "patch", "delete"}
BODY_METHODS = {"post", "put", "patch"}


@cache
def _schema() -> dict:
    """The document ``/api/schema/`` serves (made the same way, at collection time)."""
    generated = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(generated))


def operations() -> list[tuple[str, str, dict]]:
    return [
        (path, method, op)
        for path, item in _schema()["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


def op_id(value) -> str:
    return value if isinstance(value, str) else ""


OPERATIONS = operations()
IDS = [f"{method.upper()} {path}" for path, method, _ in OPERATIONS]
TAG_NAMES = [tag["name"] for tag in settings.SPECTACULAR_SETTINGS["TAGS"]]


def _view_class(path: str):
    """The DRF view a documented path routes to (path parameters filled with a word)."""
    concrete = re.sub(r"\{[^}]+\}", "1", path)
    return resolve(concrete).func.view_class


@pytest.mark.django_db
def test_the_served_schema_is_the_one_checked_here():
    assert len(OPERATIONS) >= 30
    served = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert served == _schema()


@pytest.mark.parametrize(("path", "method", "op"), OPERATIONS, ids=IDS)
def test_every_operation_has_a_summary_a_description_and_a_declared_tag(path, method, op):
    assert op.get("summary", "").strip(), "no summary"
    assert len(op.get("description", "").strip()) >= 40, "no description worth reading"
    assert op["summary"].strip() != op["description"].strip()
    assert op.get("tags"), "no tag"
    assert set(op["tags"]) <= set(TAG_NAMES), f"undeclared tag {op['tags']}"


def test_every_declared_tag_has_a_description_and_operations():
    used = {tag for _, _, op in OPERATIONS for tag in op["tags"]}
    for tag in settings.SPECTACULAR_SETTINGS["TAGS"]:
        assert tag["description"].strip(), tag["name"]
        assert tag["name"] in used, f"tag {tag['name']} groups no operation"
    assert _schema()["tags"] == settings.SPECTACULAR_SETTINGS["TAGS"]  # order kept


def _expected_errors(path: str, method: str) -> set[int]:
    """What the view itself says it can refuse: credentials, role, ids in the path, a body."""
    view = _view_class(path)()
    permissions = [permission() for permission in view.permission_classes]
    expected = set()
    if not all(isinstance(p, AllowAny) for p in permissions):
        expected.add(401)
    if any(type(p) not in (AllowAny, IsAuthenticated) for p in permissions):
        expected.add(403)  # a role check
    if "{" in path:
        expected |= {400, 404}
    if method in BODY_METHODS:
        expected.add(400)
    if view.throttle_classes:
        expected.add(429)
    return expected


@pytest.mark.parametrize(("path", "method", "op"), OPERATIONS, ids=IDS)
def test_every_operation_lists_the_errors_its_view_can_answer(path, method, op):
    documented = {int(code) for code in op["responses"]}
    missing = _expected_errors(path, method) - documented
    assert not missing, f"undocumented error statuses {sorted(missing)}"
    for code, response in op["responses"].items():
        if int(code) < 400:
            continue
        assert response["description"] != HTTPStatus(int(code)).phrase, f"{code}: say why"
        content = response["content"]["application/json"]
        assert content["schema"]["$ref"].endswith(("/ErrorBody", "/ExecuteTimeoutOut")), code
        assert content.get("examples"), f"{code}: no example body"
        for example in content["examples"].values():
            assert isinstance(example["value"].get("error"), str), (code, example)


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "method", "op"), OPERATIONS, ids=IDS)
def test_what_the_route_answers_wrong_callers_is_documented(path, method, op, alice):
    """Without credentials, and as a caller with ids that are not theirs: each answer's
    status is one the operation lists, in the error body it documents."""
    concrete = re.sub(r"\{policy_id\}", "999999", path)
    concrete = re.sub(r"\{target\}", "nobody.nothing", concrete)
    concrete = re.sub(r"\{[^}]+\}", "not_yours_1", concrete)
    documented = {int(code) for code in op["responses"]}
    for client in (APIClient(), alice.client()):
        call = getattr(client, method)
        response = call(concrete, {}, format="json") if method in BODY_METHODS else call(concrete)
        assert response.status_code in documented, (concrete, response.status_code)
        if response.status_code >= 400:
            body = json.loads(response.content)
            assert isinstance(body["error"], str), body


def _json_schema(node):
    """OpenAPI 3.0's ``nullable: true`` as JSON Schema (a null, or what the schema says)."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable"):
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


@cache
def _registry() -> Registry:
    return Registry().with_resource("urn:schema", Resource.opaque(_json_schema(_schema())))


def _validate(value, schema: dict) -> None:
    resolvable = json.loads(
        json.dumps(_json_schema(schema)).replace('"#/components', '"urn:schema#/components')
    )
    validator = jsonschema.Draft7Validator(resolvable, registry=_registry())
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(value)]
    assert not errors, errors


def _examples(op: dict):
    for media_type, content in op.get("requestBody", {}).get("content", {}).items():
        for name, example in content.get("examples", {}).items():
            yield "request", media_type, name, example["value"], content["schema"]
    for code, response in op["responses"].items():
        for media_type, content in response.get("content", {}).items():
            for name, example in content.get("examples", {}).items():
                yield code, media_type, name, example["value"], content["schema"]


@pytest.mark.parametrize(("path", "method", "op"), OPERATIONS, ids=IDS)
def test_every_operation_has_real_examples_that_match_the_schema(path, method, op):
    examples = list(_examples(op))
    success = [e for e in examples if e[0] != "request" and int(e[0]) < 400]
    assert success, "no example of a successful answer"
    if "requestBody" in op:
        assert [e for e in examples if e[0] == "request"], "no example request"
    for where, media_type, name, value, schema in examples:
        if media_type == "application/json":
            _validate(value, schema)
        else:
            assert isinstance(value, str) and value.strip(), (where, name)


def _request_serializers() -> dict[str, type]:
    """``<Name>Request`` component -> the serializer class it documents."""
    found: dict[str, type] = {}
    pending = [serializers.Serializer]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        found.setdefault(cls.__name__.removesuffix("Serializer") + "Request", cls)
    return found


@pytest.mark.django_db
def test_request_examples_pass_their_serializers():
    classes = _request_serializers()
    checked = 0
    for _, _, op in OPERATIONS:
        for where, media_type, name, value, schema in _examples(op):
            if where != "request" or media_type != "application/json":
                continue
            component = schema["$ref"].rsplit("/", 1)[-1]
            serializer = classes[component](data=value, context={"headers": {}})
            assert serializer.is_valid(), (op["operationId"], name, serializer.errors)
            checked += 1
    assert checked >= 15


def _markdown_texts() -> list[tuple[str, str]]:
    schema = _schema()
    texts = [("info", schema["info"]["description"])]
    texts += [(f"tag {t['name']}", t["description"]) for t in schema["tags"]]
    for path, method, op in OPERATIONS:
        where = f"{method.upper()} {path}"
        texts.append((where, op["description"]))
        texts += [
            (f"{where} {p['name']}", p.get("description", "")) for p in op.get("parameters", [])
        ]
        texts += [(f"{where} {code}", r["description"]) for code, r in op["responses"].items()]
    for name, component in schema["components"]["schemas"].items():
        for field, prop in component.get("properties", {}).items():
            texts.append((f"{name}.{field}", prop.get("description", "")))
    return texts


def test_no_placeholder_stands_outside_backticks():
    """Swagger UI's Markdown drops a bare `<node_id>` as an HTML tag."""
    assert len(_markdown_texts()) > 100
    for where, text in _markdown_texts():
        prose = re.sub(r"```.*?```", "", text, flags=re.S)
        prose = re.sub(r"`[^`]*`", "", prose)
        assert not re.search(r"<[A-Za-z_/]", prose), (where, text)


def test_every_websocket_route_is_described():
    description = _schema()["info"]["description"]
    routes = [str(route.pattern) for route in websocket_urlpatterns if str(route.pattern)]
    routes = [r for r in routes if r != "^"]
    assert len(routes) >= 2
    for route in routes:
        shown = "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"<\1>", route)
        assert f"`WS {shown}`" in description, shown
    assert "4000 + status" in description  # how a refusal closes


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_swagger_ui_shows_the_placeholders_and_the_websocket_routes():
    ARTIFACTS.mkdir(exist_ok=True)
    with daphne_server("apidocs") as server, chromium_page() as page:
        page.goto(f"{server.base_url}/api/docs/#/Sessions/v1_session_targets_start_create")
        page.wait_for_selector("#swagger-ui .info", timeout=20_000)
        info = page.locator("#swagger-ui .info .description").inner_text()
        assert "WS /api/v1/session-instances/<session_id>/realtime" in info
        assert "WS /api/v1/nodes/<node_id>/link" in info
        # the product's bar: a way back to the pages
        assert page.locator(".docs-bar a[href='/']").first.inner_text() == "AgentField Sessions"
        intro = page.locator("#swagger-ui .information-container")
        intro.screenshot(path=str(ARTIFACTS / "api-docs-intro.png"))
        operation = page.locator("#operations-Sessions-v1_session_targets_start_create")
        wait_until(
            page,
            "!!document.querySelector("
            "'#operations-Sessions-v1_session_targets_start_create .opblock-body')",
            timeout=20,
        )
        body = operation.inner_text()
        assert "<node_id>.<session>" in body  # the description and the path parameter
        assert "session target must be <node>.<session>" in body  # an error example
        assert "agent not found" in body
        groups = page.locator("#swagger-ui .opblock-tag").all_inner_texts()
        for tag in TAG_NAMES:
            assert any(text.startswith(tag) for text in groups), (tag, groups)
        operation.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "api-docs.png"), full_page=False)


def test_the_schema_validates_with_no_generator_warning(tmp_path):
    """drf-spectacular's own checks: a warning (an unnamed enum collision, a view it
    cannot read) fails the command, and so this test."""
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yml"))
