"""``python manage.py run_stack``: what ``make run`` starts.

Migrates, creates a fresh admin login and API key, starts daphne and a Celery worker (and
whatever the demo needs) as child processes, prints the URLs, and on Ctrl-C or SIGTERM
stops every child's whole process group, so nothing is left behind.
"""

from __future__ import annotations

import contextlib
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

import httpx
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from access_app.models import Role
from access_app.services.api_keys import api_key_create
from agentfield_site.processes import celery_worker_argv, stop_process_groups


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen | None = None


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
        children = self._children(host, port)
        stopping = False

        def request_stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        try:
            for child in children:
                child.process = subprocess.Popen(
                    child.argv, start_new_session=True, preexec_fn=_die_with_parent
                )
            self._wait_ready(base_url, children, lambda: stopping)
            if not stopping:
                self._banner(base_url, password, api_key)
            while not stopping:
                for child in children:
                    if child.process.poll() is not None:
                        raise CommandError(
                            f"{child.name} exited with code {child.process.returncode}"
                        )
                time.sleep(0.5)
        finally:
            self._stop(children)

    def _fresh_admin_login(self) -> str:
        password = secrets.token_urlsafe(12)
        user, _ = get_user_model().objects.get_or_create(
            username="admin", defaults={"is_staff": True, "is_superuser": True}
        )
        user.is_staff = user.is_superuser = user.is_active = True
        user.set_password(password)
        user.save()
        return password

    def _children(self, host: str, port: int) -> list[Child]:
        python = sys.executable
        return [
            Child(
                "daphne",
                [
                    python,
                    "-m",
                    "daphne",
                    "-b",
                    host,
                    "-p",
                    str(port),
                    "agentfield_site.asgi:application",
                ],
            ),
            Child(
                "celery worker",
                celery_worker_argv(
                    concurrency=2,
                    extra=["--beat", "--schedule", str(settings.VAR_DIR / "celerybeat-schedule")],
                ),
            ),
        ]

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

    def _banner(self, base_url: str, password: str, api_key: str) -> None:
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
            f"  Admin login     admin / {password}",
            f"  Admin API key   {api_key}",
            "",
            "Press Ctrl-C to stop everything.",
            "",
        ]
        self.stdout.write("\n".join(lines))
        self.stdout.flush()

    def _stop(self, children: list[Child]) -> None:
        stop_process_groups(c.process for c in children if c.process)
        self.stdout.write("Stopped.")
