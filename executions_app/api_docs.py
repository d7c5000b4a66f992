"""The words of the execution operations in ``/api/docs/``: summaries, descriptions,
examples and the errors each answers, referenced from the decorators in ``api.py``.

Bodies are real ones (checked against the schema by
``tests/agentfield_site/test_api_docs.py``). Placeholders stand in backticks: Swagger UI
drops a bare `<node_id>` as an HTML tag.
"""

from __future__ import annotations

from foundation.openapi import error, example, operation

EXECUTION_ID = "exec_20261201_101502_3f9c2a7d41e0b6c5"
CHILD_ID = "exec_20261201_101503_0c6e92b4d17a8f35"
RUN_ID = "run_20261201_101502_8b1e0c55a2d94f17"
SESSION_ID = "sess_20261201_101500_9d2f41c07be3a861"
TARGET = "support.resolve_voice_turn"
AT = "2026-12-01T10:15:02.114532Z"
DONE = "2026-12-01T10:15:02.460118Z"

_ACCEPTED = {
    "execution_id": EXECUTION_ID,
    "run_id": RUN_ID,
    "workflow_id": RUN_ID,
    "status": "queued",
    "target": TARGET,
    "type": "reasoner",
    "created_at": AT,
    "enqueued_at": AT,
    "session_id": None,
    "webhook_registered": False,
}
_INPUT = {"input": {"turn": {"text": "where is my order 1042"}}}
_RESULT = {"spoken_response": "Order 1042 shipped yesterday and arrives on Thursday."}
EXECUTION = {
    **_ACCEPTED,
    "status": "succeeded",
    "status_reason": "",
    "result": _RESULT,
    "error": None,
    "error_category": None,
    "actor_id": "key:7",
    "claimed_actor_id": None,
    "parent_execution_id": None,
    "started_at": AT,
    "completed_at": DONE,
    "duration_ms": 346,
    "webhook_status": None,
}

_EXECUTE_HOW = """
    The target is `<node_id>.<name>`: a reasoner or a skill of a registered node. The call
    is checked before anything runs: the target's tags must be approved (503
    `agent_pending_approval` while they wait, 403 `target_tags_rejected`), and the access
    policies must let the caller's tags reach the target's (403 `access_denied` or
    `no_policy_matched`). A Celery worker then POSTs `input` to the node with its
    dispatch token; connection errors and 5xx are retried with backoff.

    Headers: `X-Session-ID` attaches the execution to a live session (its starter, an
    admin or the session's own node; a value naming no session is kept as upstream's
    conversation key), `X-Run-ID` joins a run, `X-Parent-Execution-ID` makes it a child,
    `X-Actor-ID` names who acts (recorded in provenance). They hold visible ASCII only.
"""

EXECUTE_ASYNC = operation(
    tag="Executions",
    summary="Start an execution, answer at once",
    description="Upstream's asynchronous execute: 202 with the ids; poll "
    "`GET /api/v1/executions/<execution_id>` or pass a `webhook` (signed with "
    "`X-AgentField-Signature`).\n" + _EXECUTE_HOW,
    examples=[
        example("order_question", _INPUT, request=True),
        example(
            "with_webhook",
            {
                **_INPUT,
                "webhook": {
                    "url": "http://127.0.0.1:9000/hooks/agentfield",
                    "secret": "whsec_8Jq2",
                },
            },
            request=True,
        ),
        example("queued", _ACCEPTED, status=202),
    ],
)

EXECUTE_SYNC = operation(
    tag="Executions",
    summary="Run an execution and wait for its result",
    description="Upstream's synchronous execute: waits at most `AGENTFIELD_SYNC_TIMEOUT` "
    "seconds (60 by default) for the result, then answers 504 with the execution id so "
    "the client can poll.\n" + _EXECUTE_HOW,
    examples=[
        example("order_question", _INPUT, request=True),
        example(
            "succeeded",
            {
                "execution_id": EXECUTION_ID,
                "run_id": RUN_ID,
                "status": "succeeded",
                "result": _RESULT,
                "error_message": None,
                "duration_ms": 346,
                "finished_at": DONE,
            },
        ),
    ],
)
SYNC_TIMEOUT_EXAMPLE = example(
    "still_running",
    {
        "error": "execution_timeout",
        "message": "the execution did not finish within 60 s; "
        f"poll GET /api/v1/executions/{EXECUTION_ID}",
        "execution_id": EXECUTION_ID,
        "run_id": RUN_ID,
        "status": "running",
    },
    status=504,
)

EXECUTE_ERRORS = {
    **error(
        400,
        "The target is not `<node_id>.<name>`, a field or a lineage header is invalid.",
        bad_target={"error": "target must be <node>.<name>"},
        bad_header={"error": "X-Session-ID may hold only visible ASCII characters (no spaces)"},
        bad_run={"error": "X-Run-ID is not a valid run id"},
    ),
    **error(
        403,
        "The policies do not let these caller tags reach the target, the target's tags "
        "were rejected, or the caller may not attach this session.",
        no_policy={
            "error": "no_policy_matched",
            "message": "no access policy matches this request",
        },
        denied={"error": "access_denied", "message": "Access denied by policy"},
        rejected={
            "error": "target_tags_rejected",
            "message": f"target '{TARGET}' has rejected tags and cannot receive calls",
        },
    ),
    **error(
        404,
        "No such node or name, or the parent execution or run is not visible to the caller.",
        unknown_target={"error": f"target '{TARGET}' not found"},
        unknown_parent={"error": "parent execution not found"},
    ),
    **error(
        410,
        "`X-Session-ID` names a session that has ended.",
        ended={"error": f"session {SESSION_ID} is ended"},
    ),
    **error(
        503,
        "The target's tags (or its changed definition) wait for an admin's approval, or the "
        "control plane is overloaded.",
        pending={
            "error": "agent_pending_approval",
            "message": f"target '{TARGET}' is awaiting tag approval and cannot receive calls",
        },
    ),
}

EXECUTION_NOT_FOUND = error(
    404,
    "No execution `<execution_id>`, or another caller's (the same answer).",
    not_found={"error": "execution not found"},
)

DETAIL = operation(
    tag="Executions",
    summary="Read an execution",
    description="""
        Status (`queued`, `running`, `succeeded`, `failed`, `cancelled`, `timeout`), result
        or error (`error_category`: `agent_error` for the node's 4xx, `agent_unreachable`
        after the retries), lineage and timing of `<execution_id>`. Visible to the caller
        who started it, the executing node and admins.
    """,
    examples=[example("succeeded", EXECUTION)],
)

BATCH = operation(
    tag="Executions",
    summary="Status of many executions",
    description="""
        Upstream's batch status: for each id the caller may see, its status; ids it may not
        see, or that do not exist, are left out. At most 1000 ids.
    """,
    examples=[
        example("two_ids", {"execution_ids": [EXECUTION_ID, CHILD_ID]}, request=True),
        example(
            "statuses",
            {
                EXECUTION_ID: {
                    "status": "succeeded",
                    "status_reason": "",
                    "completed_at": DONE,
                    "duration_ms": 346,
                },
                CHILD_ID: {
                    "status": "running",
                    "status_reason": "",
                    "completed_at": None,
                    "duration_ms": None,
                },
            },
        ),
    ],
)

STATUS_CALLBACK = operation(
    tag="Executions",
    summary="Report the status of an execution (executing node)",
    description="""
        For a node that answered the dispatch with 202: it reports `running` progress or
        the final `succeeded` / `failed` with `result` or `error`. Only the executing node's
        key; terminal states never go back (409).
    """,
    examples=[
        example(
            "succeeded",
            {"status": "succeeded", "result": _RESULT, "duration_ms": 12840},
            request=True,
        ),
        example("recorded", {**EXECUTION, "duration_ms": 12840}),
    ],
)
STATUS_ERRORS = {
    **error(
        400,
        "An unknown status, or a result that cannot be stored.",
        unknown_status={"error": "unsupported status 'done'"},
    ),
    **error(
        403,
        "The key is not the executing node's.",
        not_the_node={
            "error": "forbidden",
            "message": "only the executing agent node may report status",
        },
    ),
    **error(
        409,
        "The execution does not wait for a callback (the body carries its `status`).",
        finished={"error": f"execution {EXECUTION_ID} is already succeeded", "status": "succeeded"},
    ),
}

LOGS = operation(
    tag="Executions",
    summary="Send an execution's log lines (executing node)",
    description="""
        Upstream's structured log lines from the node running `<execution_id>`; written to
        the server log (logger `agentfield.node_reports`). Another node gets 404.
    """,
    examples=[
        example(
            "two_lines",
            {
                "entries": [
                    {"level": "info", "message": "looking up order 1042", "ts": AT},
                    {"level": "info", "message": "order 1042 found: shipped", "ts": DONE},
                ]
            },
            request=True,
        ),
        example("accepted", {"accepted": 2}, status=202),
    ],
)
