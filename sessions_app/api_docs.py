"""The words of the session operations in ``/api/docs/``: summaries, descriptions, examples
and the errors each answers, referenced from the decorators in ``api.py`` and
``stream_api.py``.

Bodies are real ones (checked against the schema by
``tests/agentfield_site/test_api_docs.py``). Placeholders stand in backticks: Swagger UI
drops a bare `<node_id>.<session>` as HTML tags.
"""

from __future__ import annotations

from executions_app.api_docs import EXECUTION_ID
from foundation.openapi import error, example, operation

SDP = "application/sdp"
SESSION_ID = "sess_20261201_101500_9d2f41c07be3a861"
TARGET = "voice-support-af.voice"
TOOL = "support.resolve_voice_turn"
AT = "2026-12-01T10:15:00.402117Z"
CONNECTED = "2026-12-01T10:15:01.873409Z"
ENDED = "2026-12-01T10:17:42.150066Z"
EXPIRES = "2026-12-01T10:20:00.402117Z"
BASE = f"/api/v1/session-instances/{SESSION_ID}"
SECRET = "cs_Xy3kQ9vB7mN1rT5wZ8pL2sD6fG0hJ4aC9eV3uK7iO1q"

_URLS = {
    "session_url": BASE,
    "events_url": f"{BASE}/events",
    "stream_url": f"{BASE}/events/stream",
    "offer_url": f"{BASE}/realtime-offer",
}
_DEFINITION = {
    "target": TARGET,
    "provider": "openai",
    "transport": "webrtc",
    "model": "gpt-realtime-2",
    "voice": "marin",
    "modalities": ["audio", "text"],
    "tags": ["pii:limited", "support:voice"],
}
SESSION = {
    "session_id": SESSION_ID,
    **_DEFINITION,
    "media": "relay",
    "tool_targets": {"resolve_voice_turn": TOOL},
    "handler": True,
    "status": "ended",
    "created_at": AT,
    "connected_at": CONNECTED,
    "ended_at": ENDED,
    "end_reason": "ended by key:7",
    "expires_at": EXPIRES,
    "stats": {"turns": 3, "tool_calls": 1, "audio_in_ms": 9120, "audio_out_ms": 11480},
    **_URLS,
}

SESSION_NOT_FOUND = error(
    404,
    "No session `<session_id>`, or another caller's (the same answer).",
    not_found={"error": "session not found"},
)
SESSION_GONE = error(
    410,
    "The session has ended, failed or expired.",
    ended={"error": f"session {SESSION_ID} is ended"},
)
ALREADY_CONNECTED = {"error": f"session {SESSION_ID} is already connected"}

INSTANCE_AUTH = """
    Credentials: the API key or browser login that started the session, an admin key, or
    the session's client secret (`Authorization: Bearer <client_secret>`).
"""

TARGETS = operation(
    tag="Sessions",
    summary="Session targets you may start",
    description="""
        Every registered session (`<node_id>.<session>`) whose tags are approved and that
        the access policies let the caller's tags start, with its provider, transport,
        tools and whether a handler on the node runs its turns.
    """,
    examples=[
        example(
            "voice_target",
            {
                "targets": [
                    {
                        **_DEFINITION,
                        "node_id": "voice-support-af",
                        "name": "voice",
                        "tools": [TOOL],
                        "handler": True,
                    }
                ],
                "total": 1,
            },
        )
    ],
)

START = operation(
    tag="Sessions",
    summary="Start a session",
    description="""
        Upstream's session start for the target `<node_id>.<session>`. The optional body
        repeats the registered `provider` and `transport` (they must match; the control
        plane never infers or switches them) and may override `model` and `voice`;
        `metadata` goes to the node's handler and is what policy `constraints` judge.

        Checked in upstream's order: the target's shape, the node and the session, the
        provider/transport pair, then access (the caller's tags against **this session
        target's** approved tags), a live handler link, and the caller's cap on live
        sessions. The answer holds the `client_secret` (shown once) and the URLs of the
        instance: `offer_url` for `webrtc`, `ws_url` for `websocket`, `turns_url` for
        `audio_turns`. A session not connected within `AGENTFIELD_SESSION_CONNECT_TTL`
        seconds expires.
    """,
    examples=[
        example("openai_webrtc", {"provider": "openai", "transport": "webrtc"}, request=True),
        example(
            "with_metadata",
            {"metadata": {"customer_id": "c_88412", "channel": "web"}},
            request=True,
        ),
        example(
            "started",
            {
                "session_id": SESSION_ID,
                **_DEFINITION,
                "tool_targets": {"resolve_voice_turn": TOOL},
                "tool_url": f"{BASE}/tools/{{tool}}",
                "created_at": AT,
                "turn_detection": None,
                "media": "relay",
                "status": "created",
                "expires_at": EXPIRES,
                "client_secret": {"value": SECRET, "expires_at": EXPIRES},
                **_URLS,
            },
            status=201,
        ),
    ],
)
START_ERRORS = {
    **error(
        400,
        "The target is not `<node_id>.<session>`, the provider/transport pair is invalid "
        "(upstream's message, with the fields as given), or it differs from the registered "
        "one.",
        bad_target={"error": "session target must be <node>.<session>"},
        unknown_provider={
            "error": "Unknown session provider 'custom'. Known providers: openai, openrouter. "
            "Register provider capabilities before using a custom session provider.",
            "provider": "custom",
            "transport": "webrtc",
        },
        mismatch={
            "error": f"session {TARGET} is registered for provider=openai transport=webrtc; "
            "requested provider=openai transport=websocket"
        },
    ),
    **error(
        403,
        "The access policies do not let the caller's tags start this target, or its tags "
        "were rejected.",
        no_policy={
            "error": "no_policy_matched",
            "message": "no access policy matches this request",
        },
        rejected={
            "error": "target_tags_rejected",
            "message": f"target '{TARGET}' has rejected tags and cannot receive calls",
        },
    ),
    **error(
        404,
        "No such node, the node has no sessions, or no session of this name (upstream's bodies).",
        no_agent={"error": "agent not found"},
        no_sessions={"error": "agent has no registered sessions"},
        no_session={"error": "session not registered"},
    ),
    **error(
        429,
        "Too many starts from these credentials, or the caller already has its maximum of "
        "live sessions (`Retry-After` says when to try again).",
        too_many_live={
            "error": "too_many_live_sessions",
            "message": "a caller may have at most 20 live sessions; end one first",
            "limit": 20,
        },
    ),
    **error(
        503,
        "The session's tags wait for approval, or it declares a handler and its node has no "
        "live agent link.",
        pending={
            "error": "agent_pending_approval",
            "message": f"target '{TARGET}' is awaiting tag approval and cannot receive calls",
        },
        handler_offline={"error": f"session handler for {TARGET} is not connected"},
    ),
}

PREFLIGHT = operation(
    tag="Sessions",
    summary="May I start this session now?",
    description="""
        Whether the caller may start the session target `<node_id>.<session>` now, and if
        not, why and whom to ask: the start's own checks (approval, access policies, the
        handler's link), then the provider's settings, the node reporting itself offline
        and the caller's live-session cap. Nothing is written; the voice page asks it
        before it asks for the microphone. A target that waits for tag approval is answered
        (200, `startable: false`) to a caller the access policies would let start it once
        its tags are approved; any other target the caller may not start, like an unknown
        one, is 404. It takes no query parameters.
    """,
    examples=[
        example(
            "tags_waiting_for_approval",
            {
                "target": TARGET,
                "startable": False,
                "reason": "tags_pending",
                "message": f"target '{TARGET}' is awaiting tag approval and cannot receive calls",
                "hint": "Ask an admin to approve the tags pii:limited, support:voice on the "
                "Approvals page.",
                "ask": "admin",
                "error": "agent_pending_approval",
                "pending_tags": ["pii:limited", "support:voice"],
                "approvals_url": "/access/approvals/",
            },
        ),
        example(
            "startable",
            {
                "target": TARGET,
                "startable": True,
                "reason": None,
                "message": None,
                "hint": None,
                "ask": None,
                "error": None,
                "pending_tags": [],
                "approvals_url": None,
            },
        ),
    ],
)
PREFLIGHT_ERRORS = {
    **error(
        400,
        "The target is not `<node_id>.<session>`, or a query parameter was given.",
        bad_target={"error": "session target must be <node>.<session>"},
    ),
    **error(
        404,
        "No such session target, or one the caller may not start even once approved (the "
        "same answer).",
        not_registered={"error": "session not registered"},
    ),
}

LIST = operation(
    tag="Sessions",
    summary="Your sessions",
    description="""
        The sessions the caller started (every session for an admin), newest first, 50 a
        page; filter by `target` (`<node_id>.<session>`) and `status` (`created`,
        `connecting`, `active`, `ended`, `failed`, `expired`).
    """,
    examples=[example("one_session", SESSION)],
)

DETAIL = operation(
    tag="Sessions",
    summary="Read a session",
    description="State and counters of `<session_id>`: `created`, then `connecting`, "
    "`active`, and one of `ended`, `failed` or `expired`.\n" + INSTANCE_AUTH,
    examples=[example("ended_call", SESSION)],
)

END = operation(
    tag="Sessions",
    summary="End a session",
    description="Ends `<session_id>` (idempotent: an ended session is answered as it is); "
    "its media and provider connections close, in whichever process holds the call.\n"
    + INSTANCE_AUTH,
    examples=[
        example("caller_hung_up", {"reason": "caller hung up"}, request=True),
        example("ended", {**SESSION, "end_reason": "caller hung up"}),
    ],
)

EVENTS = operation(
    tag="Sessions",
    summary="A session's replay log",
    description="The recorded events of `<session_id>` in order, after `?after=<seq>` "
    "(the previous page's `next_after`): `session.*` state changes, `turn.user`, "
    "`turn.assistant`, `handler.say`, `tool.call`, `tool.result`, `provider.error`.\n"
    + INSTANCE_AUTH,
    examples=[
        example(
            "tool_call",
            {
                "seq": 41,
                "type": "tool.call",
                "at": CONNECTED,
                "data": {
                    "tool": "resolve_voice_turn",
                    "target": TOOL,
                    "call_id": "call_7Yb2kQ",
                    "execution_id": EXECUTION_ID,
                },
            },
        )
    ],
)

STREAM_EXAMPLE = (
    ": open\n\n"
    'data: {"type": "session.active"}\n\n'
    'data: {"type": "turn.user", "text": "where is my order 1042"}\n\n'
    'data: {"type": "turn.assistant", "text": "Order 1042 shipped yesterday."}\n\n'
    'data: {"type": "session.ended", "reason": "caller hung up"}\n\n'
)
STREAM = operation(
    tag="Realtime",
    summary="A session's live events (server-sent events)",
    description="""
        The messages the session's call sends its own client, as `text/event-stream`, for
        any reader in any process (a voice page of a direct-media call, a dashboard). It
        opens with the comment `: open`, then sends each message as one `data: <json>`
        frame (no `event:` line, so `EventSource.onmessage` gets them all), a
        `: keepalive` comment after 15 s of quiet, and ends after the final
        `{"type": "session.ended|failed|expired", "reason": ...}`. Live only: the replay
        log is the record. Served under ASGI only (503 under WSGI).
    """
    + INSTANCE_AUTH,
    examples=[example("a_call", STREAM_EXAMPLE, media_type="text/event-stream")],
)
STREAM_ERRORS = {
    **error(
        429,
        "Already 4 streams of this session are open in this web process.",
        too_many={
            "error": "too_many_streams",
            "message": "at most 4 event streams of one session at once",
            "limit": 4,
        },
    ),
    **error(
        503,
        "Served under WSGI, where a stream cannot wait, or the channel layer did not answer.",
        wsgi={"error": "unavailable", "message": "the event stream is served under ASGI only"},
    ),
}
