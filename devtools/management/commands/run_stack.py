"""``python manage.py run_stack``: what ``make run`` starts.

Migrates, creates a fresh admin login and API key, starts the web processes (``manage.py
serve``: ``AGENTFIELD_WEB_PROCESSES`` daphne processes on PostgreSQL + Redis, one on the
embedded stack) and a Celery worker as child processes, plus the demo (``devtools.demo``):
the provider simulator when ``OPENAI_API_KEY`` or ``OPENROUTER_API_KEY`` is not set (the
providers without a key are pointed at it, ``devtools.stack_env``), and the voice support
example. Each child's output goes to its log file under ``var/log/``; the terminal keeps the
banner (URLs, the admin's and the demo caller's logins and keys) and shows only the
children's warnings and errors. On Ctrl-C or SIGTERM stops every child's whole process
group (the web processes stop their daphnes), so nothing is left
behind. Everything listens on loopback unless ``--host`` says otherwise.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import time
from pathlib import Path

import httpx
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from agentfield_site.web_processes import LauncherError, web_process_count
from devtools import demo
from devtools.processes import (
    Child,
    ChildExited,
    celery_worker_argv,
    check_children,
    stop_children,
)
from devtools.stack_env import provider_line, simulated_providers, simulator_env, webrtc_env

READY_TIMEOUT_S = 60
# The web processes' own stop (SIGTERM, then SIGKILL) ends before ours gives up on them.
WEB_STOP_GRACE_S = 7


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def web_processes() -> int:
    """``AGENTFIELD_WEB_PROCESSES`` (auto: the CPU count) on Redis; one on embedded."""
    try:
        return web_process_count(
            settings.AGENTFIELD_WEB_PROCESSES, shared_state=bool(settings.REDIS_URL)
        )
    except LauncherError as exc:
        raise CommandError(str(exc)) from None


def stack_children(host: str, port: int, simulator_port: int | None, processes: int) -> list[Child]:
    """The provider simulator (if any provider has no key), the web processes (one
    supervisor, ``manage.py serve``, over ``processes`` daphnes) and the Celery worker."""
    python = sys.executable
    manage = str(settings.BASE_DIR / "manage.py")
    env = dict(os.environ, **webrtc_env(host))
    if simulator_port:
        # the pages say that the simulator answers (AGENTFIELD_PROVIDER_SIMULATOR)
        env.update(simulator_env(simulator_port), AGENTFIELD_PROVIDER_SIMULATOR="true")
    serve = [python, manage, "serve", "--host", host, "--port", str(port)]
    serve += ["--processes", str(processes), "--grace", str(WEB_STOP_GRACE_S)]
    schedule = str(settings.VAR_DIR / "celerybeat-schedule")
    children = [
        Child("web processes", serve, env, log_path=log_path("web")),
        Child(
            "celery worker",
            celery_worker_argv(concurrency=2, extra=["--beat", "--schedule", schedule]),
            env,
            restart=True,
            log_path=log_path("celery"),
        ),
    ]
    if simulator_port:
        simulator = [python, manage, "provider_simulator", "--transcribe=speech", "--port"]
        children.insert(
            0,
            Child(
                "provider simulator",
                [*simulator, str(simulator_port)],
                log_path=log_path("provider-simulator"),
            ),
        )
    return children


def log_path(name: str) -> Path:
    """Where a child of ``make run`` writes everything it prints."""
    return settings.VAR_DIR / "log" / f"{name}.log"


class Command(BaseCommand):
    help = "Run the control plane (daphne processes), a Celery worker and the demo, until Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, host: str, port: int, **options):
        logging.getLogger("httpx").setLevel(logging.WARNING)  # no line per readiness probe
        processes = web_processes()
        call_command("migrate", interactive=False, verbosity=0)
        password, api_key = demo.fresh_admin_login(), demo.fresh_admin_api_key()
        caller = (demo.CALLER_USER, demo.fresh_caller_login(), demo.fresh_caller_api_key())
        base_url = f"http://{host}:{port}"
        local_url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}"
        simulator_port = _free_port() if simulated_providers() else None
        children = stack_children(host, port, simulator_port, processes)
        demo_child = demo.demo_child(local_url, log_path("demo"))
        stopping = False

        def request_stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        try:
            for child in children:
                child.start()
            self._wait_ready(local_url, children, lambda: stopping)
            if not stopping:
                demo_child.start()
                children.append(demo_child)
                provider = provider_line(simulator_port)
                self._banner(base_url, password, api_key, caller, provider, processes)
            while not stopping:
                check_children(children, self.stderr.write)
                time.sleep(0.5)
        except ChildExited as exc:
            raise CommandError(str(exc)) from None
        finally:
            stop_children(children)
            self.stdout.write("Stopped.")

    def _wait_ready(self, base_url: str, children: list[Child], stopping) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline and not stopping():
            for child in children:
                if child.process.poll() is not None:
                    raise CommandError(f"{child.name} exited during start-up")
            try:
                if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        if not stopping():
            raise CommandError(f"the control plane did not become healthy at {base_url}")

    def _banner(
        self,
        base_url: str,
        password: str,
        api_key: str,
        caller: tuple[str, str, str],
        provider: str,
        processes: int,
    ) -> None:
        mode = "PostgreSQL + Redis" if settings.REDIS_URL else "embedded (SQLite, in-memory)"
        web = f"{processes} daphne process{'es' * (processes != 1)}"
        if not settings.REDIS_URL:
            web += " (the embedded stack's channel layer is in memory: one process)"
        lines = [
            "",
            f"AgentField Sessions is running ({mode}).",
            f"  Web processes   {web}",
            f"  Overview        {base_url}/",
            f"  Tag approvals   {base_url}/access/approvals/",
            f"  API docs        {base_url}/api/docs/",
            f"  Admin           {base_url}/admin/",
            f"  Health          {base_url}/healthz",
            "",
            f"  Demo nodes      {demo.VOICE_NODE} (sessions voice, voice_direct),",
            f"                  {demo.SUPPORT_NODE} (reasoners resolve_voice_turn, order_status):",
            "                  approve their tags at /access/approvals/ on first run",
            f"  Voice page      {base_url}/sessions/{demo.VOICE_NODE}.voice/ (relay media)",
            f"                  {base_url}/sessions/{demo.VOICE_NODE}.voice_direct/ (direct media)",
            f"  Provider        {provider}",
            "",
            f"  Admin login     admin / {password}",
            f"  Admin API key   {api_key}",
            f"  Caller login    {caller[0]} / {caller[1]}   (sign in at {base_url}/login/)",
            f"  Caller API key  {caller[2]}",
            f"                  tags {', '.join(demo.CALLER_TAGS)}: may start the demo's voice",
            "                  sessions once their tags are approved",
            "",
            f"  Logs            {settings.VAR_DIR / 'log'}/",
            "                  (web, celery, demo, provider-simulator: only their warnings",
            "                  and errors are shown here)",
            "",
            "Press Ctrl-C to stop everything.",
            "",
        ]
        self.stdout.write("\n".join(lines))
        self.stdout.flush()
