"""The words of the workflow and provenance operations in ``/api/docs/``; the shared
bodies and the execution operations are in ``api_docs``."""

from __future__ import annotations

from executions_app.api_docs import (
    AT,
    CHILD_ID,
    DONE,
    EXECUTION_ID,
    RUN_ID,
    SESSION_ID,
    TARGET,
)
from foundation.openapi import error, example, operation

WORKFLOW_EVENT = operation(
    tag="Workflows",
    summary="Report a workflow event (executing node)",
    description="""
        Upstream's workflow events from the executing node (a reasoner started, completed
        or failed); written to the server log. The execution must be the node's own (404
        otherwise).
    """,
    examples=[
        example(
            "completed",
            {
                "execution_id": EXECUTION_ID,
                "workflow_id": RUN_ID,
                "run_id": RUN_ID,
                "reasoner_id": "resolve_voice_turn",
                "agent_node_id": "support",
                "status": "succeeded",
                "type": "reasoner",
                "duration_ms": 346,
            },
            request=True,
        ),
        example("accepted", {"accepted": True}, status=202),
    ],
)
WORKFLOW_EVENT_ERRORS = error(
    404,
    "The execution does not exist or another node runs it.",
    not_found={"error": "execution not found"},
)

DAG = operation(
    tag="Workflows",
    summary="A workflow's execution DAG",
    description="""
        Every execution of the workflow `<workflow_id>` the caller may see, with its parent
        edges; the page `/workflows/<workflow_id>/` draws it.
    """,
    examples=[
        example(
            "two_steps",
            {
                "workflow_id": RUN_ID,
                "root_execution_id": EXECUTION_ID,
                "nodes": [
                    {
                        "execution_id": EXECUTION_ID,
                        "target": "voice-support-af.triage",
                        "type": "reasoner",
                        "status": "succeeded",
                        "parent_execution_id": None,
                        "session_id": SESSION_ID,
                        "depth": 0,
                        "started_at": AT,
                        "completed_at": DONE,
                        "duration_ms": 346,
                    },
                    {
                        "execution_id": CHILD_ID,
                        "target": TARGET,
                        "type": "reasoner",
                        "status": "succeeded",
                        "parent_execution_id": EXECUTION_ID,
                        "session_id": SESSION_ID,
                        "depth": 1,
                        "started_at": AT,
                        "completed_at": DONE,
                        "duration_ms": 120,
                    },
                ],
                "edges": [{"from": EXECUTION_ID, "to": CHILD_ID}],
            },
        )
    ],
)
DAG_ERRORS = error(
    404, "No workflow the caller may see.", not_found={"error": "workflow not found"}
)

_PUBLIC_KEY = "MCowBQYDK2VwAyEAq7m1Zl0c5E4yTqB3vFh9kX2pW8sN6dR1gJ0aY3uC4eI="

PROVENANCE = operation(
    tag="Executions",
    summary="An execution's signed provenance record",
    description="""
        Who called (principal, actor, caller tags), what (target and its approved tags at
        call time), from where (session, parent execution, workflow), hashes of the input
        and the result, timestamps, and an Ed25519 signature over all of it.
        `manage.py verify_provenance <execution_id>` checks it.
    """,
    examples=[
        example(
            "signed",
            {
                "execution_id": EXECUTION_ID,
                "caller": {
                    "principal": "key:7",
                    "actor_id": "key:7",
                    "tags": ["team:support"],
                },
                "target": {"name": TARGET, "type": "reasoner", "approved_tags": ["support"]},
                "origin": {
                    "session_id": SESSION_ID,
                    "parent_execution_id": None,
                    "workflow_id": RUN_ID,
                    "run_id": RUN_ID,
                },
                "status": "succeeded",
                "input_sha256": "9f2c4b1e7a6d3c0b8e5f2a1d4c7b0e3f6a9d2c5b8e1f4a7d0c3b6e9f2a5d8c1b",
                "result_sha256": "3e7a1c5b9d2f6e0a4c8b1d5f9e3a7c0b4d8f2e6a1c5b9d3f7e0a4c8b2d6f1e5a",
                "error_sha256": None,
                "created_at": AT,
                "started_at": AT,
                "completed_at": DONE,
                "signature": {
                    "algorithm": "ed25519",
                    "public_key": _PUBLIC_KEY,
                    "value": "kV3mQ8xR2tY7uI1oP5aS9dF4gH0jK6lZ3xC8vB2nM7qW1eR5tY9uI3oP7aS1dF6g"
                    "H0jK4lZ8xC2vB6nM0qW4e==",
                },
            },
        )
    ],
)

PUBLIC_KEY = operation(
    tag="Executions",
    summary="The key that signs provenance records",
    description="""
        The Ed25519 public key (base64 DER) that verifies every provenance record's
        signature, for checking records outside the control plane.
    """,
    examples=[example("ed25519", {"algorithm": "ed25519", "public_key": _PUBLIC_KEY})],
)
