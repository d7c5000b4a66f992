"""Faults with real processes: what the caller sees, and that every session and execution
ends in a terminal state with a reason."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from datetime import timedelta

import httpx
import pytest
import websockets
from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone

from executions_app.models import Execution
from sessions_app.models import SessionInstance
from sessions_app.services.lifecycle import sessions_expire
from tests import agent_double as behaviours
from tests.servers import daphne_server, free_port
from tests.sessions_app.helpers import VOICE_NODE, session_world, start
from tests.sessions_app.realtime_client import RealtimeClient, speech_chunks
from tests.worker import TEST_VAR_DIR, celery_worker

pytestmark = pytest.mark.django_db(transaction=True)


async def receive(socket, type: str, timeout: float = 15) -> dict:
    while True:
        message = json.loads(await socket.recv(timeout))
        if message["type"] == type:
            return message


@pytest.fixture
def ws_session(alice, admin, simulator):
    session_world(admin.client(), transport="websocket")
    return start(alice.client()).json()


async def test_a_killed_daphne_process_leaves_no_call_live(ws_session, alice, simulator, settings):
    sid = ws_session["session_id"]
    provider = {"OPENAI_API_KEY": "sk-simulator", "OPENAI_BASE_URL": simulator.base_url}
    with daphne_server("doomed", **provider) as server:
        call = await websockets.connect(
            f"{server.ws_url}/api/v1/session-instances/{sid}/realtime",
            additional_headers={"X-API-Key": alice.secret},
        )
        await receive(call, "agentfield.session.active")
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait()
        with pytest.raises(websockets.ConnectionClosed):
            await call.recv(10)  # the caller sees the socket drop
    row = await database_sync_to_async(SessionInstance.objects.get)(session_id=sid)
    assert row.status == "active"  # nobody is left to say otherwise ...
    settings.AGENTFIELD_SESSION_STALE_SECONDS = 15
    backdated = timezone.now() - timedelta(seconds=20)  # ... until 15 s pass unrefreshed
    await database_sync_to_async(SessionInstance.objects.filter(session_id=sid).update)(
        last_seen_at=backdated
    )
    assert (await database_sync_to_async(sessions_expire)())["failed"] == 1
    row = await database_sync_to_async(SessionInstance.objects.get)(session_id=sid)
    assert row.status == "failed"
    assert row.end_reason == "the process holding the call stopped answering"


@pytest.mark.usefixtures("worker")
async def test_an_agent_node_dying_mid_call_fails_the_tool_call_and_the_call_goes_on(
    alice, admin, agent_double, simulator
):
    agent_double.behaviours["resolve_voice_turn"] = behaviours.hang_up
    await database_sync_to_async(session_world)(
        admin.client(), agent_double.base_url, transport="websocket"
    )
    sid = (await database_sync_to_async(start)(alice.client())).json()["session_id"]
    client = RealtimeClient(sid, headers=[(b"x-api-key", alice.secret.encode())])
    await client.connect()
    await client.until("agentfield.session.active")
    simulator.script_transcripts(["resolve voice turn please"])
    await client.speak()
    result = await client.until("agentfield.tool.result", timeout=30)
    assert result["status"] == "failed"
    assert result["error"]
    await client.until("response.output_audio_transcript.done")  # the model answers ...
    outputs = [e for e in simulator.log() if e["type"] == "conversation.item.create"]
    assert "error" in json.loads(outputs[-1]["item"]["output"])  # ... having been told
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "ok"}]}
    await client.send({"type": "conversation.item.create", "item": item})
    spoken = await client.until("response.output_audio_transcript.done")
    assert spoken["transcript"] == "You said: ok"
    await client.close()


class OwnRedis:
    """A redis-server of this test's own on a loopback port, so restarting it disturbs
    nothing else."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        argv += ["--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def own_redis():
    redis = OwnRedis()
    redis.start()
    yield redis
    redis.kill()


def broker_connects(worker_name: str) -> int:
    """How often the worker has logged connecting to the broker."""
    return (TEST_VAR_DIR / f"worker-{worker_name}.log").read_text().count("Connected to redis")


async def reconnected_or_died(worker, worker_name: str, connects: int, timeout=60) -> bool:
    """Waits until the worker has connected to the broker again (True) or has exited
    (False). Its log is another process's file, with no hint: it is re-read; ``timeout``
    is only the failsafe."""
    deadline = time.monotonic() + timeout
    while worker.poll() is None:
        if broker_connects(worker_name) > connects:
            return True
        if time.monotonic() > deadline:
            raise AssertionError("the worker neither reconnected to the broker nor exited")
        await asyncio.sleep(0.05)
    return False


async def speak_turn(call) -> dict:
    for chunk in speech_chunks():
        await call.send(json.dumps({"type": "input_audio_buffer.append", "audio": chunk}))
    return await receive(call, "agentfield.tool.result", timeout=60)


@pytest.mark.skipif(not settings.REDIS_URL, reason="the embedded stack has no Redis")
async def test_a_redis_restart_mid_call_loses_no_tool_call(
    alice, admin, agent_double, simulator, own_redis
):
    agent_double.behaviours["resolve_voice_turn"] = behaviours.echo
    await database_sync_to_async(session_world)(
        admin.client(), agent_double.base_url, transport="websocket"
    )
    env = {
        "REDIS_URL": own_redis.url,
        "OPENAI_API_KEY": "sk-simulator",
        "OPENAI_BASE_URL": simulator.base_url,
    }
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(daphne_server("redis-fault", **env))
        worker = stack.enter_context(celery_worker("redis-fault", **env))
        started = httpx.post(
            f"{server.base_url}/api/v1/session-targets/{VOICE_NODE}.voice/start",
            headers={"X-API-Key": alice.secret},
            json={},
        )
        sid = started.json()["session_id"]
        simulator.script_transcripts(["resolve voice turn one", "resolve voice turn two"])
        call = await websockets.connect(
            f"{server.ws_url}/api/v1/session-instances/{sid}/realtime",
            additional_headers={"X-API-Key": alice.secret},
        )
        await receive(call, "agentfield.session.active")
        assert (await speak_turn(call))["status"] == "succeeded"

        connects = broker_connects("redis-fault")
        own_redis.kill()  # broker and channel layer gone: nothing on disk, nothing kept
        own_redis.start()
        # Celery's worker sometimes dies here (kombu cannot reconnect after a late ack on
        # the lost connection); make run supervises it, so this test does the same.
        if not await reconnected_or_died(worker, "redis-fault", connects):
            stack.enter_context(celery_worker("redis-fault-2", **env))

        second = await speak_turn(call)
        assert second["status"] == "succeeded"
        await call.close()
    executions = await database_sync_to_async(
        lambda: list(Execution.objects.filter(session_id=sid).values_list("status", flat=True))
    )()
    assert executions == ["succeeded", "succeeded"]
    assert len(agent_double.calls_to("resolve_voice_turn")) == 2  # nothing ran twice
