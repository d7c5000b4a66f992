"""The words of a session's call operations in ``/api/docs/`` (its tools, audio turns, the
WebRTC offer); the shared bodies and the other session operations are in ``api_docs``."""

from __future__ import annotations

from executions_app.api_docs import EXECUTE_ERRORS, EXECUTION_ID, RUN_ID
from foundation.openapi import error, example, operation
from sessions_app.api_docs import (
    ALREADY_CONNECTED,
    CONNECTED,
    INSTANCE_AUTH,
    SDP,
    SESSION_GONE,
    SESSION_ID,
    SESSION_NOT_FOUND,
    TARGET,
    TOOL,
)

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
    + INSTANCE_AUTH,
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
    + INSTANCE_AUTH,
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
    + INSTANCE_AUTH,
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
    **error(409, "The session already has a call.", connected=ALREADY_CONNECTED),
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
