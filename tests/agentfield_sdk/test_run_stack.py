"""``make run`` (``manage.py run_stack``): the control plane, the simulator and the example."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx
import pytest

from access_app.models import AccessPolicy, ApiKey
from devtools.stack_env import webrtc_env
from tests.agentfield_sdk.run_stack_process import run_stack
from tests.servers import free_port
from tests.worker import TEST_VAR_DIR

pytestmark = pytest.mark.django_db(transaction=True)


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_make_run_starts_everything_with_the_demo_and_stops_it_all():
    port = free_port()
    with run_stack(port) as (process, output):
        simulator = output.wait_for(r"provider simulator at (http://127\.0\.0\.1:\d+)/v1")
        admin_key = output.wait_for(r"Admin API key\s+(\S+)").group(1)
        caller_password = output.wait_for(r"Caller login\s+caller / (\S+)").group(1)
        caller_key = output.wait_for(r"Caller API key\s+(\S+)").group(1)
        output.wait_for(r"Logs\s+\S+/log/")
        output.wait_for("voice-support-af is waiting for tag approval")
        output.wait_for("support is waiting for tag approval")
        children = children_of(process.pid)
        assert len(children) == 4  # simulator, daphne, worker, example

        assert httpx.get(f"{simulator.group(1)}/control/log").status_code == 200
        assert AccessPolicy.objects.filter(caller_tags=["support:voice"]).exists()
        keys = ApiKey.objects.filter(role="agent", revoked_at__isnull=True)
        assert sorted(keys.values_list("node_id", "tags")) == [
            ("support", []),
            ("voice-support-af", []),
        ]
        api = httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": admin_key}, timeout=30
        )
        for node in ("voice-support-af", "support"):
            tags = api.get(f"/api/v1/nodes/{node}").json()["pending_tags"]
            approve = f"/api/v1/admin/agents/{node}/approve-tags"
            assert api.post(approve, json={"approved_tags": tags}).status_code == 200
        output.wait_for("support is ready")
        assert "support is ready" in (TEST_VAR_DIR / "log" / "demo.log").read_text()
        assert caller_key not in (TEST_VAR_DIR / "log" / "web.log").read_text()

        # the demo caller signs in on the product login, and the seeded policy lets it
        # start the demo's voice session; the printed caller key may too
        browser = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
        login_page = browser.get("/login/")
        assert login_page.status_code == 200
        assert "Provider simulator" in login_page.text  # the pages say who answers
        signed_in = browser.post(
            "/login/?next=/sessions/",
            data={
                "username": "caller",
                "password": caller_password,
                "csrfmiddlewaretoken": browser.cookies["csrftoken"],
            },
        )
        assert signed_in.status_code == 302 and signed_in.headers["location"] == "/sessions/"
        sessions_page = browser.get("/sessions/").text
        assert 'data-target="voice-support-af.voice"' in sessions_page
        assert 'href="/access/approvals/"' not in sessions_page
        start = "/api/v1/session-targets/voice-support-af.voice/start"
        headers = {"X-CSRFToken": browser.cookies["csrftoken"]}
        started = browser.post(start, json={}, headers=headers)
        assert started.status_code == 201, started.text
        by_key = httpx.post(
            f"http://127.0.0.1:{port}{start}", json={}, headers={"X-API-Key": caller_key}
        )
        assert by_key.status_code == 201, by_key.text
        for body in (started.json(), by_key.json()):
            end = f"/api/v1/session-instances/{body['session_id']}/end"
            assert api.post(end, json={}).status_code == 200

        turn = {"text": "Has order 3150 arrived?"}
        answer = api.post(
            "/api/v1/execute/support.resolve_voice_turn", json={"input": {"turn": turn}}
        )
        assert answer.json()["result"]["order_status"] == "delivered"

        # a worker that dies (as Celery's can when Redis restarts) is started again
        [worker] = [pid for pid in children if b"celery" in cmdline(pid)]
        os.killpg(worker, signal.SIGKILL)
        output.wait_for("celery worker exited with code -9; starting it again")
        again = api.post(
            "/api/v1/execute/support.resolve_voice_turn", json={"input": {"turn": turn}}
        )
        assert again.json()["status"] == "succeeded"
        children = children_of(process.pid)

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=40) == 0
    text = output.wait_closed()
    assert "Stopped." in text
    assert "stopping voice-support-af, support" in text
    assert "Caller login" in text
    assert not [pid for pid in children if alive(pid)]


def test_make_run_on_loopback_offers_loopback_webrtc_candidates(monkeypatch):
    monkeypatch.delenv("AGENTFIELD_WEBRTC_ICE_HOSTS", raising=False)
    assert webrtc_env("127.0.0.1") == {"AGENTFIELD_WEBRTC_ICE_HOSTS": "127.0.0.1"}
    assert webrtc_env("0.0.0.0") == {}
    monkeypatch.setenv("AGENTFIELD_WEBRTC_ICE_HOSTS", "10.0.0.5")
    assert webrtc_env("127.0.0.1") == {}
