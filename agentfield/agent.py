"""``Agent``: one agent node. Declare reasoners, skills and sessions; ``run()`` it.

```python
app = Agent(node_id="support")

@app.reasoner(tags=["support"])
async def lookup(order: str) -> dict: ...

app.run()
```

What an author declares lives in ``agentfield.declarations``, the node lifecycle
(register, heartbeat, link, serve, shutdown) in ``agentfield.node``; ``Agent`` adds the
configuration and the calls through the control plane.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Mapping
from typing import Any

from agentfield.context import current_context
from agentfield.control_plane import call_input
from agentfield.node import NodeLifecycle
from agentfield.targets import check_target_name

log = logging.getLogger("agentfield")

DEFAULT_SERVER = "http://127.0.0.1:8000"
DEFAULT_CALL_TIMEOUT = 75.0  # a little over the control plane's default sync timeout (60 s)


class Agent(NodeLifecycle):
    """An agent node: its targets, its HTTP server, its registration and its agent link.

    ``server`` (or upstream's ``agentfield_server``) defaults to ``$AGENTFIELD_SERVER``,
    ``api_key`` to ``$AGENTFIELD_API_KEY``. ``port=0`` picks a free port; the node
    registers ``callback_url`` if given, else ``http://<host>:<port>``.
    """

    def __init__(
        self,
        node_id: str,
        *,
        server: str | None = None,
        api_key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        agentfield_server: str | None = None,
        callback_url: str | None = None,
        version: str = "1.0.0",
        tags: list[str] | None = None,
        description: str = "",
        heartbeat_interval: float = 10.0,
        approval_poll_interval: float = 1.0,
        call_timeout: float = DEFAULT_CALL_TIMEOUT,
        session_capabilities: Mapping[str, tuple[str, ...] | list[str]] | None = None,
        **upstream_options: Any,
    ) -> None:
        self.node_id = check_target_name(node_id, "node")
        self.server = (
            server or agentfield_server or os.environ.get("AGENTFIELD_SERVER") or DEFAULT_SERVER
        ).rstrip("/")
        self._api_key = api_key or os.environ.get("AGENTFIELD_API_KEY") or ""
        self.host = host
        self.port = port
        self.callback_url = callback_url
        self.version = version
        self.tags = list(tags or [])
        self.description = description
        self.heartbeat_interval = heartbeat_interval
        self.approval_poll_interval = approval_poll_interval
        self.call_timeout = call_timeout
        self.session_capabilities = session_capabilities
        self.instance_id = uuid.uuid4().hex
        if upstream_options:
            log.info("%s: ignoring options %s", node_id, ", ".join(sorted(upstream_options)))
        super().__init__()

    def __repr__(self) -> str:
        return f"<Agent {self.node_id} {self.server}>"

    async def call(self, target: str, payload: Mapping[str, Any] | None = None, /, **kwargs):
        """Run ``<node>.<name>`` through the control plane and return its result.

        Inside a reasoner, skill or session handler the call joins the current workflow
        (parent execution, run and session ids). Raises ``ExecutionError`` on failure.
        """
        return await self._execute(target, call_input(payload, kwargs), None)

    async def _execute(self, target: str, input: dict[str, Any], session_id: str | None) -> Any:
        headers = current_context().child_headers(session_id=session_id)
        return await self._control_plane().execute(target, input, headers)
