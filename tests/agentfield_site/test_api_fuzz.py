"""Every operation in ``/api/schema/``, fuzzed in process with each role's key.

No response may be a 500, and every response must match what the schema documents for
its operation (status code, content type, body, headers). Cases are positive and
negative data from schemathesis, plus cases aimed at real ids (alice's session, its tool
call's execution and workflow) so the fuzzer reaches past the 404s. Deterministic
(derandomized) and bounded, so the whole module stays well under 90 s.

Routes added later are in the schema, so they are fuzzed here without a change.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from access_app.models import AccessPolicy
from tests.sessions_app.helpers import TOOL_NODE, session_world, start


@schemathesis.serializer("application/sdp")
def sdp_text(ctx, value) -> bytes:
    """The realtime offer's body is an SDP text, sent as is."""
    return value.encode() if isinstance(value, str) else str(value).encode()


APP = get_wsgi_application()
SCHEMA = schemathesis.openapi.from_wsgi("/api/schema/", APP)
OPERATIONS = sorted((result.ok() for result in SCHEMA.get_all_operations()), key=str)


def not_a_500(ctx, response, case) -> None:
    """A 500 is a bug. Other 5xx are states the schema documents (a target pending
    approval is 503, a sync call still running after its wait is 504)."""
    if response.status_code == 500:
        raise AssertionError(f"500 from {case.method} {case.formatted_path}: {response.text}")


CHECKS = [
    not_a_500,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
MAX_EXAMPLES = 40

pytestmark = pytest.mark.django_db


@pytest.fixture
def wsgi_keeps_the_test_connection() -> Iterator[None]:
    """Django's handler closes connections around each request; the test transaction
    must survive them (as Django's own test client arranges)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def known_ids(admin, alice) -> dict[str, str | list[str]]:
    """Real ids of alice's: a live session, its tool call's execution and workflow; a path
    parameter with several meanings (``target``) gets one of each."""
    session_world(admin.client(), transport="websocket")
    started = start(alice.client()).json()
    sid = started["session_id"]
    call = alice.client().post(
        f"/api/v1/session-instances/{sid}/tools/resolve_voice_turn", {}, format="json"
    )
    accepted = call.json()
    return {
        "session_id": sid,
        "execution_id": accepted["execution_id"],
        "workflow_id": accepted["workflow_id"],
        "node_id": TOOL_NODE,
        "target": [accepted["target"], started["target"]],
        "tool": "resolve_voice_turn",
        "policy_id": str(AccessPolicy.objects.order_by("pk").first().pk),
    }


def case_strategy(operation, known_ids: dict[str, str | list[str]]):
    strategies = [
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    ]
    names = [p.name for p in operation.path_parameters if p.name in known_ids]
    if names:
        choices = {name: known_ids[name] for name in names}
        aimed = st.fixed_dictionaries(
            {n: st.sampled_from(v if isinstance(v, list) else [v]) for n, v in choices.items()}
        )
        strategies.append(
            aimed.flatmap(
                lambda ids: operation.as_strategy(GenerationMode.POSITIVE, path_parameters=ids)
            )
        )
    return st.one_of(strategies)


@pytest.mark.parametrize("operation", OPERATIONS, ids=[op.label for op in OPERATIONS])
def test_no_operation_answers_500_or_outside_its_schema_for_any_role(
    operation, known_ids, admin, alice, make_caller, wsgi_keeps_the_test_connection, settings
):
    settings.AGENTFIELD_SYNC_TIMEOUT = 0.1
    agent = make_caller("agent", node_id=TOOL_NODE, name="support agent")
    keys = {"admin": admin.secret, "caller": alice.secret, "agent": agent.secret}

    @given(case=case_strategy(operation, known_ids))
    @settings_for_fuzzing
    def each_case(case) -> None:
        for key in keys.values():
            response = case.call(headers={"X-API-Key": key})
            case.validate_response(response, checks=CHECKS)

    each_case()


settings_for_fuzzing = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
