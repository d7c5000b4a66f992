"""The words of the session operations in ``/api/docs/``: summaries, descriptions, examples
and the errors each answers, referenced from the decorators in ``api.py`` and
``stream_api.py``.

Bodies are real ones (checked against the schema by
``tests/agentfield_site/test_api_docs.py``). Placeholders stand in backticks: Swagger UI
drops a bare `<node_id>.<session>` as HTML tags.
"""

from __future__ import annotations

from executions_app.api_docs import EXECUTE_ERRORS, EXECUTION_ID, RUN_ID
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
_ALREADY_CONNECTED = {"error": f"session {SESSION_ID} is already connected"}

_INSTANCE_AUTH = """
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
    "`active`, and one of `ended`, `failed` or `expired`.\n" + _INSTANCE_AUTH,
    examples=[example("ended_call", SESSION)],
)

END = operation(
    tag="Sessions",
    summary="End a session",
    description="Ends `<session_id>` (idempotent: an ended session is answered as it is); "
    "its media and provider connections close, in whichever process holds the call.\n"
    + _INSTANCE_AUTH,
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
    + _INSTANCE_AUTH,
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
    + _INSTANCE_AUTH,
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

TOOL_CALL = operation(
    tag="Sessions",
    summary="Call one of the session's tools",
    description="""
        Upstream's tool route: runs `<tool>` (a short name or the full
        `<node_id>.<reasoner>`) for the session, if it is in the session's allowlist.
        Then exactly what `POST /api/v1/execute/async/<node_id>.<name>` does, with the
        session attached: the session's approved tags act as the caller tags, the person
        who started it is recorded as the actor.
    """
    + _INSTANCE_AUTH,
    examples=[
        example("order_lookup", {"input": {"order_id": "1042"}}, request=True),
        example(
            "queued",
            {
                "execution_id": EXECUTION_ID,
                "run_id": RUN_ID,
                "workflow_id": RUN_ID,
                "status": "queued",
                "target": TOOL,
                "type": "reasoner",
                "created_at": CONNECTED,
                "enqueued_at": CONNECTED,
                "session_id": SESSION_ID,
                "webhook_registered": False,
            },
            status=202,
        ),
    ],
)
TOOL_ERRORS = {
    **EXECUTE_ERRORS,
    **error(
        400,
        "The body is not JSON, or the target is not `<node_id>.<reasoner>` (upstream's bodies).",
        invalid_json={"error": "invalid JSON body"},
        bad_target={"error": "session tool target must be <node>.<reasoner>"},
    ),
    **error(
        403,
        "The tool is not in the session's allowlist, or the policies refuse the session's tags.",
        not_allowed={
            "error": f"tool 'refund_order' is not allowed for session {TARGET}. "
            f"Allowed: resolve_voice_turn"
        },
        no_tools={
            "error": f"tool 'refund_order' is not allowed for session {TARGET}. "
            "This session allows no tools."
        },
    ),
    **SESSION_NOT_FOUND,
    **SESSION_GONE,
    **error(
        429,
        "Too many tool calls from these credentials.",
        rate_limited={
            "error": "rate_limited",
            "message": "too many requests; retry in 3 s",
            "retry_after": 3,
        },
    ),
}

TURN = operation(
    tag="Audio turns",
    summary="Send one spoken turn, get the spoken answer",
    description="""
        For sessions with `provider=openrouter` and `transport=audio_turns`: one WAV or
        MP3 turn (JSON with base64 `audio`, or a multipart upload with the file field
        `audio`; optional `text`) in, the transcript, the spoken answer (WAV, pcm16
        24 kHz, base64) and the tool calls it made out. The model's tool calls run as
        executions of the session before it answers; a handler-driven session gets the
        turn over the agent link. The conversation (last 20 messages) is kept on the
        server; one turn at a time.
    """
    + _INSTANCE_AUTH,
    examples=[
        example(
            "wav_turn",
            {
                "audio": {
                    "data": "UklGRiQAAABXQVZFZm10IBAAAAABAAEAwF0AAIC7AAACABAAZGF0YQAAAAA=",
                    "format": "wav",
                }
            },
            request=True,
        ),
        example("typed_turn", {"text": "where is my order 1042"}, request=True),
        example(
            "answered",
            {
                "turn_id": "turn_3",
                "input": {"transcript": "where is my order 1042"},
                "output": {
                    "text": "Order 1042 shipped yesterday and arrives on Thursday.",
                    "audio": {
                        "data": "UklGRiQAAABXQVZFZm10IBAAAAABAAEAwF0AAIC7AAACABAA",
                        "format": "wav",
                    },
                },
                "tool_calls": [
                    {
                        "tool": "resolve_voice_turn",
                        "target": TOOL,
                        "execution_id": EXECUTION_ID,
                        "status": "succeeded",
                    }
                ],
                "latency_ms": 1284.5,
            },
        ),
    ],
)
TURN_ERRORS = {
    **error(
        400,
        "No audio and no text, audio that is not valid base64 or is empty, or a session "
        "whose transport is not `audio_turns`.",
        nothing={"error": "audio or text is required"},
        bad_base64={"error": "audio.data is not valid base64"},
    ),
    **SESSION_NOT_FOUND,
    **error(
        409,
        "The session is already answering a turn: send the next one after it.",
        busy={"error": f"session {SESSION_ID} is already answering a turn"},
    ),
    **SESSION_GONE,
    **error(
        413,
        "The audio is larger than `AGENTFIELD_MAX_TURN_BYTES` (10 MiB by default).",
        too_large={"error": "audio is larger than AGENTFIELD_MAX_TURN_BYTES (10485760 bytes)"},
    ),
    **error(
        415,
        "The audio is neither WAV nor MP3, or the body is neither JSON nor multipart.",
        format={"error": "unsupported audio format 'ogg': use wav or mp3"},
        not_audio={"error": "the audio file is neither WAV nor MP3"},
    ),
    **error(
        502,
        "The provider failed (OpenRouter's status and message).",
        provider={
            "error": "OpenRouter audio turn failed (429): Rate limit exceeded",
            "provider": "openrouter",
        },
    ),
    **error(
        503,
        "The session's handler node has no live agent link, or the control plane is overloaded.",
        handler_offline={"error": f"session handler for {TARGET} is not connected"},
    ),
    **error(
        504,
        "The session's handler did not answer the turn in time.",
        handler_silent={"error": f"session handler for {TARGET} did not answer within 30 s"},
    ),
}

_FINGERPRINT = (
    "a=fingerprint:sha-256 4A:1F:9C:0B:7E:52:D3:88:6A:F1:2C:49:B0:E7:13:5D:"
    "9E:04:C6:7B:A2:38:F5:61:0D:8C:E9:27:B4:53:1A:6F\r\n"
)
_ICE = "a=ice-ufrag:Vd3k\r\na=ice-pwd:4Ftq2Lk9Qm1Zx7Rb0Np5Ws8e\r\n"
OFFER_SDP = (
    "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
    "a=group:BUNDLE 0 1\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n"
    + _ICE
    + _FINGERPRINT
    + "a=setup:actpass\r\na=mid:0\r\na=sendrecv\r\na=rtcp-mux\r\n"
    "a=rtpmap:111 opus/48000/2\r\n"
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n"
    + _ICE
    + _FINGERPRINT
    + "a=setup:actpass\r\na=mid:1\r\na=sctp-port:5000\r\n"
)
OFFER = operation(
    tag="Realtime",
    summary="Connect a WebRTC call (SDP offer in, answer out)",
    description="""
        Upstream's realtime offer for a `webrtc` session: the body is the browser's SDP
        offer (`Content-Type: application/sdp`, one audio section and the data channel),
        the answer is SDP with its ICE candidates gathered (no trickle). Query `provider`
        and `transport` are optional and, if given, checked as upstream does.

        With `media: relay` the control plane's own peer takes the microphone, plays the
        provider's voice and speaks JSON session events on the browser's `events` data
        channel (in: `{"type": "input_text", "text": ...}`, `{"type": "end"}`); with
        `media: direct` the offer goes to OpenAI, whose answer comes back, and the control
        plane joins the call's sideband.
    """
    + _INSTANCE_AUTH,
    examples=[
        example("offer", OFFER_SDP, request=True, media_type=SDP),
        example("answer", OFFER_SDP.replace("actpass", "active"), media_type=SDP),
    ],
)
OFFER_ERRORS = {
    **error(
        400,
        "No SDP, SDP that cannot be a call, or a session whose transport is not `webrtc`.",
        no_body={"error": "SDP offer body is required"},
        wrong_transport={"error": "realtime-offer requires transport=webrtc"},
        bad_sdp={"error": "invalid SDP offer: it needs exactly one audio section, it has 0"},
    ),
    **SESSION_NOT_FOUND,
    **error(409, "The session already has a call.", connected=_ALREADY_CONNECTED),
    **SESSION_GONE,
    **error(
        502,
        "The provider's key is missing, or the provider would not open the call.",
        no_key={"error": "OPENAI_API_KEY is required for provider=openai transport=webrtc"},
        provider={
            "error": "OpenAI realtime call failed (401): invalid api key",
            "boundary": "control-plane -> realtime provider",
            "provider": "openai",
        },
    ),
}
