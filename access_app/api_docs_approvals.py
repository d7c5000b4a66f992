"""The words of the tag approval and access policy operations in ``/api/docs/``; the
shared bodies and the caller and node operations are in ``api_docs``."""

from __future__ import annotations

from access_app.api_docs import (
    AT,
    LATER,
    NODE,
    TARGET,
)
from foundation.openapi import error, example, operation

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
                **TARGET,
                "approved_tags": [],
                "pending_tags": TARGET["proposed_tags"],
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
                        "components": {"reasoners": [], "skills": [], "sessions": [TARGET]},
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
