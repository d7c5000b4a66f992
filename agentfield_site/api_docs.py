"""``SPECTACULAR_SETTINGS``: the words of ``/api/docs/`` that belong to no one route.

The introduction (authentication, the error body, the WebSocket routes, which are not
HTTP operations and so have no place of their own in OpenAPI) and the groups (``TAGS``)
every operation names one of. Plain data, read by ``settings.py``; it imports nothing.

Swagger UI renders these as Markdown and drops what looks like an HTML tag, so every
placeholder (`<node_id>`, `<session_id>`) stands inside backticks.
"""

TAGS = [
    {"name": "Callers & keys", "description": "Who the credentials act as; the API keys."},
    {"name": "Nodes", "description": "Agent nodes: registration, heartbeats, shutdown, listing."},
    {
        "name": "Tags & approvals",
        "description": "Admins approve or reject the tags each node's targets propose; a "
        "target is callable only when none of its tags is pending.",
    },
    {
        "name": "Policies",
        "description": "Access policies: which caller tags may call which target tags.",
    },
    {
        "name": "Executions",
        "description": "Calling a reasoner or skill (`<node_id>.<name>`), its status, "
        "the node's reports and the signed provenance record.",
    },
    {"name": "Workflows", "description": "Executions grouped by workflow: events and the DAG."},
    {
        "name": "Sessions",
        "description": "Session targets (`<node_id>.<session>`) and their instances: start, "
        "read, end, the replay log and tool calls.",
    },
    {
        "name": "Realtime",
        "description": "A live call: the WebRTC offer and the server-sent event stream. The "
        "WebSocket routes are described in the introduction above.",
    },
    {
        "name": "Audio turns",
        "description": "Turn-based audio (provider `openrouter`, transport `audio_turns`).",
    },
]

TAG_NAMES = [tag["name"] for tag in TAGS]

DESCRIPTION = """
Realtime and multimodal session entrypoints for AgentField workflows: agent nodes
register their reasoners, skills and sessions; admins approve their tags; callers start
sessions (browser voice over WebRTC, the realtime WebSocket, turn-based audio) whose tool
calls run as ordinary executions with the session id attached.

## Authentication

- **API key**: `X-API-Key: <key>` or `Authorization: Bearer <key>`. Roles `admin`,
  `caller` and `agent` (an agent key bound to a node acts as that node only). Keys come
  from `manage.py create_api_key`.
- **Browser login**: the Django session cookie (`sessionid`), with the CSRF token on
  writes.
- **Session client secret**: `Authorization: Bearer <client_secret>` from the start
  response, for that one session's `/api/v1/session-instances/<session_id>/...` routes.

Another caller's session or execution answers exactly as one that does not exist (404).

## Errors

Every error is JSON with an `error` string. Our own routes put a short code in `error`
and the human text in `message` (`{"error": "rate_limited", "message": "too many
requests; retry in 12 s", "retry_after": 12}`); upstream AgentField's routes, kept
byte-for-byte, put the human message in `error` (`{"error": "session not registered"}`).
Each operation below lists the statuses it can answer, with example bodies. A client
mistake is never a 500.

## WebSocket routes

These are not HTTP operations, so they are described here rather than below.

### `WS /api/v1/session-instances/<session_id>/realtime`

The realtime transport of a session started with `transport=websocket`: the OpenAI
Realtime client protocol, so an OpenAI realtime client pointed here works.

- **Credentials**: an API key header, or the session's client secret as
  `Authorization: Bearer <client_secret>`, as the subprotocol
  `agentfield-client-secret.<client_secret>` offered beside `realtime` (browsers cannot
  set headers; only `realtime` is echoed), or as `?client_secret=<client_secret>`.
- **Client events**: `input_audio_buffer.append`, `input_audio_buffer.commit`,
  `input_audio_buffer.clear`, `conversation.item.create` (user text), `response.create`,
  `response.cancel`, `session.update` (only `instructions` and `audio.output.voice`;
  anything else is an `error` event with code `session_update_forbidden`). Audio is
  pcm16, 24 kHz, mono, base64.
- **Server events**: the provider's, except its function calls, which the control plane
  runs as executions and shows as `agentfield.tool.call` / `agentfield.tool.result`;
  plus `agentfield.session.*` state events.
- **Refusals**: the socket is accepted, sent an `error` event with the HTTP status the
  REST routes would use, and closed with code `4000 + status`: `4401` bad credentials,
  `4404` unknown or another caller's session, `4409` already connected, `4410` ended,
  `4429` too many connects (with `retry_after`), `4502` the provider failed.

Example first frames:

```json
{"type": "conversation.item.create", "item": {"type": "message", "role": "user",
 "content": [{"type": "input_text", "text": "where is my order 1042"}]}}
{"type": "agentfield.tool.call", "tool": "resolve_voice_turn",
 "target": "support.resolve_voice_turn", "execution_id": "exec_20261201_101502_3f9c2a7d41e0b6c5"}
```

### `WS /api/v1/nodes/<node_id>/link`

The agent link: a node that runs session handlers keeps it open. Agent key of that node
(or an admin key). JSON text frames, each with `type` and `session_id`.

- **Control plane to node**: `link.ready {node_id}` once, then `session.started {target,
  caller, metadata}`, `session.input {turn: {text, modality, audio_ms, turn_id}}`,
  `session.ended {reason}`.
- **Node to control plane**: `session.say {text}`, `session.end {reason?}`,
  `session.error {message}`.
- **Refusals**: an `error` frame `{"type": "error", "code", "message"}`; a key that may
  not act as the node is closed with `4403`, a key revoked while connected with `4401`.

```json
{"type": "session.input", "session_id": "sess_20261201_101500_9d2f41c07be3a861",
 "turn": {"text": "where is my order 1042", "modality": "audio", "audio_ms": 1840,
          "turn_id": "turn_1"}}
{"type": "session.say", "session_id": "sess_20261201_101500_9d2f41c07be3a861",
 "text": "Order 1042 shipped yesterday."}
```

Any other WebSocket path (upstream SDKs open `/api/v1/memory/events/ws`) is refused
during the handshake (403).

## Health

`GET /healthz` (no credentials): 200 `{"status": "ok", "checks": {...}}` when the database and the
channel layer answer, 503 otherwise; for load balancers, not part of `/api/v1/`.
"""

SPECTACULAR_SETTINGS = {
    "TITLE": "AgentField Sessions control plane",
    "DESCRIPTION": DESCRIPTION.strip(),
    "VERSION": "0.1.0",
    "TAGS": TAGS,
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {
        "deepLinking": True,  # each operation has its own #/<tag>/<operationId> link
        "docExpansion": "list",
        "defaultModelsExpandDepth": 0,  # the schemas stay below the operations, folded
        "filter": True,
    },
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # a tag's decision (the tag-decision route's request and answer): one named choice set
    "ENUM_NAME_OVERRIDES": {"TagDecisionEnum": ["approved", "rejected"]},
}
