"""``python manage.py run_stack``: what ``make run`` starts.

Migrates, creates a fresh admin login and API key, starts daphne and a Celery worker as
child processes, plus the demo: the provider simulator when ``OPENAI_API_KEY`` or
``OPENROUTER_API_KEY`` is not set (the providers without a key are pointed at it), and
the voice support example (``examples/voice_support/agent.py``) with a fresh agent key per
node and the access policy that lets its voice session call ``support`` tools. It prints
the URLs, and on Ctrl-C or SIGTERM stops every child's whole process group, so nothing is
left behind. Everything listens on loopback unless ``--host`` says otherwise.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass

import httpx
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from access_app.models import AccessPolicy, ApiKey, Role
from access_app.services.api_keys import api_key_create, api_key_revoke
from devtools.processes import celery_worker_argv, daphne_argv, stop_process_groups

EXAMPLE = settings.BASE_DIR / "examples" / "voice_support" / "agent.py"
VOICE_NODE, SUPPORT_NODE = "voice-support-af", "support"
# The voice session's tags may call the support node's tools (its handler's session.call is
# a tool call of the session: the session's approved tags are the caller tags).
DEMO_POLICY = {
    "name": "demo: voice sessions call support tools",
    "caller_tags": ["support:voice"],
    "target_tags": ["support"],
    "action": "allow",
    "description": "Created by make run for examples/voice_support.",
}


MAX_RESTARTS = 20


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str] | None = None
    essential: bool = True  # when it exits, the whole stack stops
    # Started again when it exits: Celery's worker can die when its broker restarts
    # (kombu fails to reconnect after a late ack on the lost connection); work waits in
    # the broker or is re-enqueued by the recovery sweep, so a new worker loses nothing.
    restart: bool = False
    process: subprocess.Popen | None = None
    exit_reported: bool = False
    restarts: int = 0

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.argv, env=self.env, start_new_session=True, preexec_fn=_die_with_parent
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _demo_node_key(node_id: str, tags: list[str]) -> str:
    """A fresh agent key bound to ``node_id``; the previous make-run key of it is revoked."""
    name = f"make-run {node_id}"
    for old in ApiKey.objects.filter(name=name, revoked_at__isnull=True):
        api_key_revoke(key=old)
    _, secret = api_key_create(name=name, role=Role.AGENT, tags=tags, node_id=node_id)
    return secret


def _simulated() -> list[tuple[str, str]]:
    """(provider, settings prefix) of every provider without a key."""
    providers = [("OpenAI", "OPENAI"), ("OpenRouter", "OPENROUTER")]
    return [
        (name, prefix) for name, prefix in providers if not getattr(settings, f"{prefix}_API_KEY")
    ]


def _simulator_env(port: int) -> dict[str, str]:
    """Points each provider without a key at the local provider simulator."""
    env = {}
    for _, prefix in _simulated():
        env.update(
            {f"{prefix}_API_KEY": "simulator", f"{prefix}_BASE_URL": f"http://127.0.0.1:{port}/v1"}
        )
    return env


def _webrtc_env(host: str) -> dict[str, str]:
    """On loopback, WebRTC peers offer 127.0.0.1 (aioice never offers loopback by itself)."""
    if os.environ.get("AGENTFIELD_WEBRTC_ICE_HOSTS") or host not in ("127.0.0.1", "localhost"):
        return {}
    return {"AGENTFIELD_WEBRTC_ICE_HOSTS": "127.0.0.1"}


def _provider_line(simulator_port: int | None) -> str:
    if simulator_port is None:
        return "OpenAI and OpenRouter (their API keys are set)"
    names = " and ".join(name for name, _ in _simulated())
    keys = " and ".join(f"{prefix}_API_KEY" for _, prefix in _simulated())
    url = f"http://127.0.0.1:{simulator_port}/v1"
    return f"provider simulator at {url} for {names} (set {keys} to use the real ones)"


def _die_with_parent() -> None:
    """Runs in the child before exec: if the supervisor dies, the kernel ends the child too."""
    import ctypes

    pr_set_pdeathsig = 1
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


class Command(BaseCommand):
    help = "Run the control plane (daphne), a Celery worker and the demo, until Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, host: str, port: int, **options):
        call_command("migrate", interactive=False, verbosity=0)
        password = self._fresh_admin_login()
        _, api_key = api_key_create(
            name=f"make-run {time.strftime('%Y-%m-%d %H:%M:%S')}", role=Role.ADMIN
        )
        base_url = f"http://{host}:{port}"
        local_url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}"
        simulator_port = _free_port() if _simulated() else None
        children = self._children(host, port, simulator_port)
        demo = self._demo_child(local_url)
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
                demo.start()
                children.append(demo)
                self._banner(base_url, password, api_key, _provider_line(simulator_port))
            while not stopping:
                self._check_children(children)
                time.sleep(0.5)
        finally:
            self._stop(children)

    def _check_children(self, children: list[Child]) -> None:
        """A worker is started again; another essential child that exits stops the stack;
        the demo only gets a warning."""
        for child in children:
            code = child.process.poll()
            if code is None or child.exit_reported:
                continue
            if child.restart and child.restarts < MAX_RESTARTS:
                child.restarts += 1
                self.stderr.write(f"{child.name} exited with code {code}; starting it again")
                child.start()
                continue
            if child.essential:
                raise CommandError(f"{child.name} exited with code {code}")
            self.stderr.write(f"{child.name} exited with code {code}; the rest keeps running")
            child.exit_reported = True

    def _fresh_admin_login(self) -> str:
        password = secrets.token_urlsafe(12)
        user, _ = get_user_model().objects.get_or_create(
            username="admin", defaults={"is_staff": True, "is_superuser": True}
        )
        user.is_staff = user.is_superuser = user.is_active = True
        user.set_password(password)
        user.save()
        return password

    def _demo_child(self, server: str) -> Child:
        AccessPolicy.objects.get_or_create(name=DEMO_POLICY["name"], defaults=DEMO_POLICY)
        env = dict(
            os.environ,
            AGENTFIELD_SERVER=server,
            AGENTFIELD_API_KEY=_demo_node_key(VOICE_NODE, []),
            SUPPORT_AGENTFIELD_API_KEY=_demo_node_key(SUPPORT_NODE, []),
            PYTHONUNBUFFERED="1",
        )
        return Child("voice support example", [sys.executable, str(EXAMPLE)], env, essential=False)

    def _children(self, host: str, port: int, simulator_port: int | None) -> list[Child]:
        python = sys.executable
        env = dict(os.environ, **_webrtc_env(host))
        if simulator_port:
            env.update(_simulator_env(simulator_port))
        daphne = daphne_argv(
            "-b", host, "-p", str(port), ws_message_bytes=settings.AGENTFIELD_MAX_WS_MESSAGE_BYTES
        )
        schedule = str(settings.VAR_DIR / "celerybeat-schedule")
        children = [
            Child("daphne", [*daphne, "agentfield_site.asgi:application"], env),
            Child(
                "celery worker",
                celery_worker_argv(concurrency=2, extra=["--beat", "--schedule", schedule]),
                env,
                restart=True,
            ),
        ]
        if simulator_port:
            manage = str(settings.BASE_DIR / "manage.py")
            simulator = [python, manage, "provider_simulator", "--port", str(simulator_port)]
            children.insert(0, Child("provider simulator", simulator))
        return children

    def _wait_ready(self, base_url: str, children: list[Child], stopping) -> None:
        deadline = time.monotonic() + 60
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

    def _banner(self, base_url: str, password: str, api_key: str, provider: str) -> None:
        mode = "PostgreSQL + Redis" if settings.REDIS_URL else "embedded (SQLite, in-memory)"
        lines = [
            "",
            f"AgentField Sessions is running ({mode}).",
            f"  Overview        {base_url}/",
            f"  Tag approvals   {base_url}/access/approvals/",
            f"  API docs        {base_url}/api/docs/",
            f"  Admin           {base_url}/admin/",
            f"  Health          {base_url}/healthz",
            "",
            f"  Demo nodes      {VOICE_NODE} (session voice), {SUPPORT_NODE} "
            "(reasoner resolve_voice_turn):",
            "                  approve their tags at /access/approvals/ on first run",
            f"  Voice page      {base_url}/sessions/{VOICE_NODE}.voice/",
            f"  Provider        {provider}",
            "",
            f"  Admin login     admin / {password}",
            f"  Admin API key   {api_key}",
            "",
            "Press Ctrl-C to stop everything.",
            "",
        ]
        self.stdout.write("\n".join(lines))
        self.stdout.flush()

    def _stop(self, children: list[Child]) -> None:
        """The demo node first, so it says goodbye while the control plane still listens."""
        started = [c for c in children if c.process]
        stop_process_groups(c.process for c in started if not c.essential)
        stop_process_groups(c.process for c in started if c.essential)
        self.stdout.write("Stopped.")
