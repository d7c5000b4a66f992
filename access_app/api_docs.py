"""The words of the access app's operations in ``/api/docs/``: summaries, descriptions,
examples and the errors each answers, referenced from the decorators in ``api.py``.

Bodies are real ones (shapes checked against the schema by
``tests/agentfield_site/test_api_docs.py``). Placeholders stand in backticks: Swagger UI
drops a bare `<node_id>` as an HTML tag.
"""

from __future__ import annotations

from foundation.openapi import error, example, operation

NODE = "voice-support-af"
TOOL_NODE = "support"
AT = "2026-12-01T10:15:02.114532Z"
LATER = "2026-12-01T10:16:47.901233Z"
DISPATCH_TOKEN = "dt_4fQ2xK9mZ7bV1nR8sT3wY6uE0aH5jL2c"

# --- Callers & keys --------------------------------------------------------------------------

ME = operation(
    tag="Callers & keys",
    summary="Who the credentials act as",
    description="""
        The principal the presented API key, browser login or client secret acts as: its
        role, its caller tags (what access policies match) and, for an agent key, the node
        it is bound to. Handy to check a key before using it.
    """,
    examples=[
        example(
            "caller_key",
            {
                "id": "key:7",
                "role": "caller",
                "name": "support app",
                "tags": ["team:support"],
                "node_id": "",
            },
        )
    ],
)

API_KEYS = operation(
    tag="Callers & keys",
    summary="List the API keys (admin)",
    description="""
        Every API key, newest first, without its secret (only a hash is stored; the key is
        shown once, when `manage.py create_api_key` or the admin creates it). `prefix` is
        the key's first characters, enough to recognise it in a log.
    """,
    examples=[
        example(
            "two_keys",
            {
                "keys": [
                    {
                        "name": "support-node",
                        "prefix": "3fa91c0d",
                        "role": "agent",
                        "tags": [],
                        "node_id": TOOL_NODE,
                        "created_at": AT,
                        "last_used_at": LATER,
                        "revoked_at": None,
                    },
                    {
                        "name": "support app",
                        "prefix": "b72e0a94",
                        "role": "caller",
                        "tags": ["team:support"],
                        "node_id": "",
                        "created_at": AT,
                        "last_used_at": None,
                        "revoked_at": None,
                    },
                ],
                "total": 2,
            },
        )
    ],
)

# --- Nodes -----------------------------------------------------------------------------------

_SESSION = {
    "name": "voice",
    "provider": "openai",
    "transport": "webrtc",
    "model": "gpt-realtime-2",
    "modalities": ["audio", "text"],
    "voice": "marin",
    "tools": ["support.resolve_voice_turn"],
    "tags": ["support:voice", "pii:limited"],
    "metadata": {},
    "turn_detection": None,
    "handler": True,
}

REGISTER = operation(
    tag="Nodes",
    summary="Register an agent node",
    description="""
        Upstream AgentField's registration: the node's address, its reasoners, skills and
        sessions (top-level `sessions` or upstream's `metadata.custom.sessions`), each
        target with the tags it proposes. Each proposed tag goes through tag approval
        (`AGENTFIELD_TAG_APPROVAL`, tag rules): the answer says which are still pending.
        The `dispatch_token` is what the control plane sends as
        `Authorization: Bearer <dispatch_token>` on every call to the node; check it.

        Who may register an id: an admin, or an agent key bound to it; an unbound agent key
        claims a new id and is bound to it. Registering again keeps earlier decisions, but a
        change in what a target reaches (tools, handler, provider, transport, model, host)
        makes it pending again.
    """,
    examples=[
        example(
            "voice_node",
            {
                "id": NODE,
                "base_url": "http://127.0.0.1:8101",
                "version": "1.0.0",
                "instance_id": "9b7e1c3a-5d2f-4e8b-a1c6-0f3d2e4b5a69",
                "proposed_tags": ["support"],
                "reasoners": [{"id": "greet", "tags": ["support"]}],
                "skills": [],
                "sessions": [_SESSION],
            },
            request=True,
        ),
        example(
            "pending_approval",
            {
                "success": True,
                "message": "Node registered successfully",
                "node_id": NODE,
                "status": "pending_approval",
                "pending_tags": ["pii:limited", "support", "support:voice"],
                "approved_tags": [],
                "dispatch_token": DISPATCH_TOKEN,
            },
            status=201,
        ),
    ],
)
REGISTER_ERRORS = {
    **error(
        400,
        "A field is missing or wrong, the `base_url` is not an address the node may live "
        "at, or a session definition is invalid (upstream's message, with the session).",
        invalid_session={
            "error": "Unsupported session transport 'webrtc' for provider 'openrouter'. "
            "Supported transports: audio_turns. AgentField does not infer or switch "
            "providers; set provider and transport explicitly.",
            "session": "voice",
        },
        invalid_base_url={
            "error": "invalid_base_url",
            "message": "base_url must be an http or https URL with a host",
        },
    ),
    **error(
        403,
        "The key may not register this id (another key's node, a caller key), or a "
        "proposed tag is forbidden by a tag rule.",
        forbidden_tags={
            "error": "forbidden_tags",
            "message": "Registration rejected: agent proposes forbidden tags",
            "forbidden_tags": ["admin:all"],
        },
        another_keys_node={
            "error": "forbidden",
            "message": f"node '{NODE}' is registered by another key",
        },
        bound_elsewhere={
            "error": "forbidden",
            "message": f"this API key may only act as node '{TOOL_NODE}'",
        },
    ),
}

TARGET = {
    "id": "voice",
    "kind": "session",
    "target": f"{NODE}.voice",
    "proposed_tags": ["pii:limited", "support:voice"],
    "approved_tags": ["pii:limited", "support:voice"],
    "pending_tags": [],
    "rejected_tags": [],
    "callable": True,
}
_NODE_BODY = {
    "id": NODE,
    "base_url": "http://127.0.0.1:8101",
    "version": "1.0.0",
    "instance_id": "9b7e1c3a-5d2f-4e8b-a1c6-0f3d2e4b5a69",
    "status": "ready",
    "lifecycle_status": "ready",
    "proposed_tags": ["support"],
    "approved_tags": ["support"],
    "pending_tags": [],
    "registered_at": AT,
    "last_heartbeat": LATER,
    "reasoners": [],
    "skills": [],
    "sessions": [TARGET],
}

NODE_LIST = operation(
    tag="Nodes",
    summary="List the nodes you may see",
    description="""
        Admins see every node; an agent key sees the node it is bound to; a caller sees
        none. Each node comes with its targets, their tags and whether they are callable.
    """,
    examples=[example("one_node", {"nodes": [_NODE_BODY], "total": 1})],
)

NODE_DETAIL = operation(
    tag="Nodes",
    summary="Read one node",
    description="""
        The node `<node_id>` with its targets and approval state. `lifecycle_status` is
        upstream's: `pending_approval` while any tag waits, then `ready` (or the
        `degraded` / `offline` the node reports). Upstream SDKs poll it while they wait.
    """,
    examples=[example("ready_node", _NODE_BODY)],
)
NODE_NOT_FOUND = error(
    404,
    "No node `<node_id>`, or one these credentials may not see (upstream's body).",
    not_found={"error": "node not found"},
)

HEARTBEAT = operation(
    tag="Nodes",
    summary="Send a node heartbeat",
    description="""
        Upstream's heartbeat from the node `<node_id>` (its own agent key or an admin),
        optionally with the status it reports (`starting`, `ready`, `degraded`,
        `offline`). A node without heartbeats is shown offline.
    """,
    examples=[
        example("ready", {"status": "ready", "version": "1.0.0"}, request=True),
        example(
            "received",
            {"success": True, "message": "heartbeat received", "timestamp": LATER},
        ),
    ],
)

SHUTDOWN = operation(
    tag="Nodes",
    summary="Take a node offline",
    description="""
        Upstream's shutdown notice: the node `<node_id>` is offline until it registers
        again; its targets cannot be called meanwhile.
    """,
    examples=[
        example("deploy", {"reason": "deploying 1.0.1", "timeout_seconds": 10}, request=True),
        example(
            "acknowledged",
            {
                "success": True,
                "message": "shutdown acknowledged",
                "node_id": NODE,
                "lifecycle_status": "offline",
            },
        ),
    ],
)
