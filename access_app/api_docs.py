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

_TARGET = {
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
    "sessions": [_TARGET],
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

# --- Tags & approvals ------------------------------------------------------------------------

_AGENT = {
    "agent_id": NODE,
    "proposed_tags": ["support"],
    "approved_tags": [],
    "status": "pending_approval",
    "registered_at": AT,
    "components": {
        "reasoners": [],
        "skills": [],
        "sessions": [
            {
                **_TARGET,
                "approved_tags": [],
                "pending_tags": _TARGET["proposed_tags"],
                "callable": False,
            }
        ],
    },
}

PENDING = operation(
    tag="Tags & approvals",
    summary="Nodes with tags waiting for approval (admin)",
    description="""
        Upstream's list of agents that have at least one target whose tags (or changed
        definition) wait for an admin. The page `/access/approvals/` shows the same.
    """,
    examples=[example("one_pending", {"agents": [_AGENT], "total": 1})],
)

APPROVED = operation(
    tag="Tags & approvals",
    summary="Nodes whose tags are all decided (admin)",
    description="""
        Upstream's list of agents with nothing pending: every proposed tag approved or
        rejected.
    """,
    examples=[
        example(
            "one_approved",
            {
                "agents": [
                    {
                        **_AGENT,
                        "approved_tags": ["support"],
                        "status": "ready",
                        "components": {"reasoners": [], "skills": [], "sessions": [_TARGET]},
                    }
                ],
                "total": 1,
            },
        )
    ],
)

APPROVE = operation(
    tag="Tags & approvals",
    summary="Approve a node's tags (admin)",
    description="""
        Upstream's approval of the node `<node_id>`: `approved_tags` for the node's own
        tags, and per target `session_tags`, `reasoner_tags` or `skill_tags`
        (`{"<name>": [...]}`). Proposed tags left out are rejected. The decision is recorded
        with who, when and `reason`.
    """,
    examples=[
        example(
            "approve_voice",
            {
                "approved_tags": ["support"],
                "session_tags": {"voice": ["support:voice", "pii:limited"]},
                "reason": "reviewed the voice support node",
            },
            request=True,
        ),
        example(
            "approved",
            {
                "success": True,
                "message": "Agent tags approved",
                "agent_id": NODE,
                "approved_tags": ["pii:limited", "support", "support:voice"],
            },
        ),
    ],
)
NOTHING_PENDING = error(
    409,
    "Nothing of this node waits for approval, or it registered again since the admin "
    "looked (nothing was decided).",
    not_pending={
        "error": "not_pending_approval",
        "message": f"agent '{NODE}' has no tags pending approval",
    },
)
TAGS_NODE_NOT_FOUND = error(
    404, "No node `<node_id>` (upstream's body).", not_found={"error": "node not found"}
)

REJECT = operation(
    tag="Tags & approvals",
    summary="Reject a node's pending tags (admin)",
    description="""
        Upstream's rejection: every pending tag of the node `<node_id>` is rejected, and
        the rejection is remembered per target and tag. A target with a rejected tag is not
        callable (403 `target_tags_rejected`).
    """,
    examples=[
        example("unknown_node", {"reason": "unknown team; ask in #support first"}, request=True),
        example(
            "rejected",
            {
                "success": True,
                "message": "Agent tags rejected",
                "agent_id": NODE,
                "rejected_tags": ["pii:limited", "support:voice"],
            },
        ),
    ],
)

TAG_DECISION = operation(
    tag="Tags & approvals",
    summary="Revoke an approved tag, or approve a rejected one (admin)",
    description="""
        Our own route (upstream has none): change the decision on one decided tag of one
        target of the node `<node_id>`, as the approvals page does. `decision: rejected`
        revokes an approved tag: the target takes no new calls or sessions at once (403
        `target_tags_rejected`; calls already live go on, as after a re-approval), and the
        rejection is remembered when the node proposes the tag again. `decision: approved`
        approves a rejected tag. `reason` is required and recorded with who and when.
        `kind` is needed only when a reasoner and a skill share the name. `changed` is
        false when the tag already had that decision.
    """,
    examples=[
        example(
            "revoke",
            {
                "target": "voice",
                "tag": "pii:limited",
                "decision": "rejected",
                "reason": "pilot over: no personal data on calls",
            },
            request=True,
        ),
        example(
            "revoked",
            {
                "success": True,
                "message": "Tag decision changed",
                "agent_id": NODE,
                "target": f"{NODE}.voice",
                "kind": "session",
                "tag": "pii:limited",
                "status": "rejected",
                "changed": True,
                "callable": False,
            },
        ),
    ],
)
TAG_DECISION_NOT_FOUND = error(
    404,
    "No node `<node_id>`, or no live target of that name on it (or two, a reasoner and a "
    "skill, and no `kind`).",
    not_found={"error": "not_found", "message": f"no target 'voise' on '{NODE}'"},
)
TAG_NOT_DECIDED = error(
    409,
    "The target proposes no such tag, or it is still pending (decide it with "
    "approve-tags or reject-tags).",
    not_decided={
        "error": "tag_not_decided",
        "message": f"{NODE}.voice has no decided tag 'pii:limited'.",
    },
)

# --- Policies --------------------------------------------------------------------------------

_POLICY_IN = {
    "name": "support callers may start voice",
    "caller_tags": ["team:support"],
    "target_tags": ["support:*"],
    "allow_functions": [],
    "deny_functions": [],
    "constraints": {},
    "action": "allow",
    "priority": 10,
    "enabled": True,
    "description": "The support app starts voice sessions and calls support tools.",
}
_POLICY = {**_POLICY_IN, "id": 3, "created_at": AT, "updated_at": AT}
_POLICY_HOW = """
    Evaluation: highest `priority` first, then id. `caller_tags` and `target_tags` must
    each intersect the request's (empty means any; `*`, `prefix*` and `*suffix` patterns);
    a `deny_functions` match denies; non-empty `allow_functions` that do not match go on to
    the next policy; `constraints` judge the input; else the policy's `action`. No match:
    403 `no_policy_matched` (with `AGENTFIELD_DEFAULT_DENY`, the default).
"""
POLICY_EXISTS = error(
    409,
    "Another policy already has this name.",
    exists={
        "error": "policy_exists",
        "message": "a policy named 'support callers may start voice' already exists",
    },
)
POLICY_INVALID = error(
    400,
    "A field is missing or wrong (the body names it), or `action` is neither `allow` nor `deny`.",
    bad_action={"error": "invalid_action", "message": "Action must be 'allow' or 'deny'"},
)
POLICY_NOT_FOUND = error(
    404, "No policy with this id.", not_found={"error": "not_found", "message": "policy not found"}
)

POLICY_LIST = operation(
    tag="Policies",
    summary="List the access policies (admin)",
    description="Every access policy, in evaluation order.\n" + _POLICY_HOW,
    examples=[example("one_policy", {"policies": [_POLICY], "total": 1})],
)
POLICY_CREATE = operation(
    tag="Policies",
    summary="Create an access policy (admin)",
    description="Upstream's policy shape; the name is unique.\n" + _POLICY_HOW,
    examples=[
        example("allow_support", _POLICY_IN, request=True),
        example("created", _POLICY, status=201),
    ],
)
POLICY_GET = operation(
    tag="Policies",
    summary="Read an access policy (admin)",
    description="The policy `<policy_id>` with every field, as the evaluation reads it.\n"
    + _POLICY_HOW,
    examples=[example("policy", _POLICY)],
)
POLICY_PUT = operation(
    tag="Policies",
    summary="Replace an access policy (admin)",
    description="Replaces every field of the policy `<policy_id>`; takes effect at once.",
    examples=[
        example("raise_priority", {**_POLICY_IN, "priority": 20}, request=True),
        example("updated", {**_POLICY, "priority": 20, "updated_at": LATER}),
    ],
)
POLICY_DELETE = operation(
    tag="Policies",
    summary="Delete an access policy (admin)",
    description="Deletes the policy `<policy_id>`; requests it allowed are refused from now.",
    examples=[example("deleted", {"success": True, "message": "Policy deleted"})],
)
