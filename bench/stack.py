"""Start a throw-away control plane for a benchmark: daphne, Celery workers, on loopback.

``embedded`` uses a fresh SQLite file and filesystem broker in a temporary directory;
``postgres`` uses the database ``agentfield_bench`` (recreated) and Redis database 1, or
``BENCH_PG_DATABASE`` and ``BENCH_REDIS_URL`` (to keep apart from another checkout's runs).
``BENCH_POOL`` picks the Celery pool (default ``prefork``; ``threads`` for comparison).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import httpx

from devtools.processes import celery_worker_argv, stop_process_groups

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
PG_BENCH_DATABASE = os.environ.get("BENCH_PG_DATABASE", "agentfield_bench")
PG_BENCH_URL = f"postgres://postgres@127.0.0.1:5432/{PG_BENCH_DATABASE}"
REDIS_BENCH_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/1")
PROJECT_APP = "agentfield_site.asgi:application"
POOL = os.environ.get("BENCH_POOL", "prefork")


def _recreate_postgres_database() -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{PG_BENCH_DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{PG_BENCH_DATABASE}"')


def stack_env(stack: str, var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(AGENTFIELD_VAR_DIR=str(var_dir), LOG_LEVEL="warning", PYTHONUNBUFFERED="1")
    # One bench caller makes hundreds of starts and tool calls a minute: the per-caller
    # limits would measure themselves, not the path under test.
    env.update(
        AGENTFIELD_SESSION_START_RATE="100000/min",
        AGENTFIELD_TOOL_CALL_RATE="100000/min",
        AGENTFIELD_WEBRTC_OFFER_RATE="100000/min",
        AGENTFIELD_REALTIME_CONNECT_RATE="100000/min",
        AGENTFIELD_AUDIO_TURN_RATE="100000/min",
        AGENTFIELD_MAX_LIVE_SESSIONS_PER_CALLER="100000",
    )
    if stack == "postgres":
        env.update(DATABASE_URL=PG_BENCH_URL, REDIS_URL=REDIS_BENCH_URL)
    return env


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return result.stdout


class Stack:
    def __init__(
        self,
        stack: str,
        port: int,
        workers: int,
        worker_concurrency: int,
        daphnes: int = 1,
        app: str = PROJECT_APP,
        serve_processes: int | None = None,
    ):
        self.stack, self.port = stack, port
        # ``serve_processes``: ``manage.py serve`` with that many processes on one port,
        # instead of ``daphnes`` separate daphne processes on ports ``port``, ``port + 1``...
        self.serve_processes = serve_processes
        if serve_processes:
            daphnes = 1
        self.workers, self.worker_concurrency = workers, worker_concurrency
        self.app = app
        self.base_urls = [f"http://127.0.0.1:{port + index}" for index in range(daphnes)]
        self.base_url = self.base_urls[0]
        self.processes: list[subprocess.Popen] = []
        self.daphne_processes: list[subprocess.Popen] = []
        self.var_dir = Path(tempfile.mkdtemp(prefix=f"af-bench-{stack}-"))
        self.env = stack_env(stack, self.var_dir)

    def spawn(self, argv: list[str], **env: str) -> subprocess.Popen:
        log = (self.var_dir / f"{len(self.processes)}.log").open("w")
        process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env={**self.env, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append(process)
        return process

    def start(self) -> None:
        if self.stack == "postgres":
            _recreate_postgres_database()
            import redis

            redis.Redis.from_url(REDIS_BENCH_URL).flushdb()
        manage(self.env, "migrate", "--verbosity", "0")
        self.admin_key = (
            manage(self.env, "create_api_key", "--name", "bench-admin", "--role", "admin")
            .strip()
            .splitlines()[-1]
        )
        self.caller_key = (
            manage(
                self.env,
                "create_api_key",
                "--name",
                "bench-caller",
                "--role",
                "caller",
                "--tags",
                "bench",
            )
            .strip()
            .splitlines()[-1]
        )
        if self.serve_processes:
            serve = [PYTHON, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(self.port)]
            serve += ["--processes", str(self.serve_processes), "--application", self.app]
            self.daphne_processes.append(self.spawn(serve))
        for index in range(0 if self.serve_processes else len(self.base_urls)):
            # Twisted's default listen backlog (50) resets bursts of new connections.
            endpoint = f"tcp:port={self.port + index}:interface=127.0.0.1:backlog=4096"
            daphne = self.spawn([PYTHON, "-m", "daphne", "-e", endpoint, self.app])
            self.daphne_processes.append(daphne)
        for index in range(self.workers):
            # the first worker also runs beat: the recovery sweep, as in production
            beat = ["--beat", "--schedule", str(self.var_dir / "beat")] if index == 0 else []
            self.spawn(
                celery_worker_argv(
                    concurrency=self.worker_concurrency,
                    loglevel="WARNING",
                    hostname=f"bench{index}@%h",
                    extra=[
                        "--pool",
                        POOL,
                        "--without-gossip",
                        "--without-mingle",
                        "--without-heartbeat",
                        *beat,
                    ],
                )
            )
        deadline = time.monotonic() + 60
        waiting = list(self.base_urls)
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{waiting[0]}/healthz", timeout=2).status_code == 200:
                    waiting.pop(0)
                    if not waiting:
                        time.sleep(2)  # let the workers finish starting
                        return
                    continue
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the stack did not start; logs in {self.var_dir}")

    def stop(self) -> None:
        stop_process_groups(self.processes)


@contextmanager
def running_stack(
    stack: str,
    port: int = 8123,
    workers: int = 1,
    worker_concurrency: int = 2,
    daphnes: int = 1,
    app: str = PROJECT_APP,
    serve_processes: int | None = None,
    **env: str,
):
    instance = Stack(stack, port, workers, worker_concurrency, daphnes, app, serve_processes)
    instance.env.update(env)
    try:
        instance.start()
        yield instance
    finally:
        instance.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


BENCH_TAG = "bench"


def register_bench_nodes(stack, bodies: list[dict]) -> None:
    """Register each node, approve its tags (``bench``), and let ``bench`` call ``bench``."""
    admin = {"X-API-Key": stack.admin_key}
    for body in bodies:
        httpx.post(
            f"{stack.base_url}/api/v1/nodes/register", json=body, headers=admin
        ).raise_for_status()
        httpx.post(
            f"{stack.base_url}/api/v1/admin/agents/{body['id']}/approve-tags",
            json={"approved_tags": [BENCH_TAG]},
            headers=admin,
        ).raise_for_status()
    policy = {"name": "bench", "caller_tags": [BENCH_TAG], "target_tags": [BENCH_TAG]}
    httpx.post(
        f"{stack.base_url}/api/v1/admin/policies", json={**policy, "action": "allow"}, headers=admin
    ).raise_for_status()
    time.sleep(0.5)


def start_bench_agent(stack, port: int, work_ms: float, bodies: list[dict]) -> subprocess.Popen:
    """``bench/agent_node.py`` on ``port`` (its reasoner works ``work_ms``), with ``bodies``
    registered and approved; the agent is stopped again if that fails."""
    agent = subprocess.Popen(
        [PYTHON, str(ROOT / "bench" / "agent_node.py"), str(port), str(work_ms)],
        start_new_session=True,
    )
    try:
        register_bench_nodes(stack, bodies)
    except BaseException:
        agent.terminate()
        raise
    return agent


def work_node(node_id: str, port: int) -> dict:
    """The registration body of the agent node's one reasoner, ``work``."""
    return {
        "id": node_id,
        "base_url": f"http://127.0.0.1:{port}",
        "reasoners": [{"id": "work", "tags": [BENCH_TAG]}],
    }
