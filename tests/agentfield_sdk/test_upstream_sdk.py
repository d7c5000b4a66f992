"""The published upstream Python SDK (``agentfield`` 0.1.144 from PyPI), unchanged, against
a real daphne process under manual tag approval (reference §7 of agentfield-upstream.md).

Upstream's SDK waits for approval inside its server's start-up, polling ``GET
/api/v1/nodes/<id>`` for ``lifecycle_status`` every 5 s and giving up after 300 s; until
then it serves nothing. So its first call is served soon after the approval only if the
control plane reports the approval there.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from access_app.models import AccessPolicy, AgentNode
from devtools.processes import stop_process_groups
from tests.servers import daphne_server, free_port
from tests.worker import ROOT, TEST_VAR_DIR

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("worker")]

UPSTREAM_VERSION = "0.1.144"
UPSTREAM_VENV = ROOT / "var" / f"upstream-agentfield-{UPSTREAM_VERSION}"
UPSTREAM_AGENT = Path(__file__).with_name("upstream_agent.py")
NODE = "upstream-support"
# Well under the SDK's own 300 s: approval is seen at its next 5 s poll.
SERVED_WITHIN = 90


def upstream_python() -> Path:
    """The upstream SDK's interpreter, installed once under var/ (skip if PyPI is away)."""
    python = UPSTREAM_VENV / "bin" / "python"
    marker = UPSTREAM_VENV / ".installed"
    if marker.exists():
        return python
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(UPSTREAM_VENV)], check=True)
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", f"agentfield=={UPSTREAM_VERSION}"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if install.returncode != 0:
        last = (install.stderr.strip().splitlines() or ["pip failed"])[-1]
        pytest.skip(f"could not install agentfield=={UPSTREAM_VERSION} from PyPI: {last}")
    marker.touch()
    return python


def wait_until(check, what: str, timeout: float):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout:g} s")
        time.sleep(0.5)


def test_the_upstream_sdks_first_start_under_manual_approval_serves_soon_after_approval(
    admin, alice, make_caller
):
    python = upstream_python()
    AccessPolicy.objects.create(
        name="team-a-calls-support", caller_tags=["team:a"], target_tags=["support"],
        action="allow",
    )  # fmt: skip
    agent_key = make_caller("agent", node_id=NODE, name="upstream node").secret
    with daphne_server("upstream-sdk", AGENTFIELD_TAG_APPROVAL="manual") as server:
        log_path = TEST_VAR_DIR / "upstream-agent.log"
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("AGENTFIELD_", "DJANGO_", "DATABASE_URL", "REDIS_URL"))
        }
        env.update(
            AGENTFIELD_SERVER=server.base_url,
            AGENTFIELD_API_KEY=agent_key,
            PORT=str(free_port()),
            PYTHONUNBUFFERED="1",
        )
        with log_path.open("w") as log:
            process = subprocess.Popen(
                [str(python), str(UPSTREAM_AGENT)],
                cwd=TEST_VAR_DIR,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            with httpx.Client(base_url=server.base_url, timeout=30) as api:
                admin_headers = {"X-API-Key": admin.secret}

                def pending() -> list[str]:
                    body = api.get("/api/v1/admin/agents/pending", headers=admin_headers).json()
                    return [a["agent_id"] for a in body["agents"]]

                wait_until(lambda: NODE in pending(), "the upstream node's registration", 60)
                node = api.get(f"/api/v1/nodes/{NODE}", headers={"X-API-Key": agent_key}).json()
                assert node["lifecycle_status"] == "pending_approval"
                approved = api.post(
                    f"/api/v1/admin/agents/{NODE}/approve-tags",
                    json={"approved_tags": ["support"]},
                    headers=admin_headers,
                )
                assert approved.status_code == 200, approved.text

                def served() -> dict | None:
                    try:  # the sync route waits while the dispatch retries a silent node
                        answer = api.post(
                            f"/api/v1/execute/{NODE}.resolve_voice_turn",
                            json={"input": {"turn": {"text": "hello"}}},
                            headers={"X-API-Key": alice.secret},
                            timeout=SERVED_WITHIN,
                        )
                    except httpx.TimeoutException:
                        return None
                    body = answer.json()
                    return body if body.get("status") == "succeeded" else None

                body = wait_until(served, "the first call served", SERVED_WITHIN)
                assert body["result"] == {"spoken_response": "Upstream heard: hello"}
        finally:
            stop_process_groups([process], grace=10)
        agent_log, server_log = log_path.read_text(), server.log()
    assert "approval timed out" not in agent_log
    assert "Traceback" not in server_log, server_log
    # its graceful-shutdown notice took the node offline
    assert AgentNode.objects.get(node_id=NODE).reported_status == "offline"
