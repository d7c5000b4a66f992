"""``python manage.py serve``: the control plane on several daphne processes, one address.

    python manage.py serve --host 127.0.0.1 --port 8000 [--processes N] [-- DAPHNE ARGS]

Sized by ``--processes`` or ``AGENTFIELD_WEB_PROCESSES`` (``auto``: the CPU count); one
process on the embedded stack. Runs until SIGTERM or SIGINT, then stops every child and
exits 0 (decision 0028).
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from agentfield_site.web_processes import (
    APPLICATION,
    STOP_GRACE_SECONDS,
    Launcher,
    LauncherError,
    web_process_count,
)


def positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(value)
    return number


class Command(BaseCommand):
    help = (
        "Serve the control plane with several daphne processes on one address "
        "(SO_REUSEPORT sockets held by this process; children restarted when they die)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--processes",
            type=positive_int,
            default=None,
            help="daphne processes (default: AGENTFIELD_WEB_PROCESSES, auto = CPU count)",
        )
        parser.add_argument("--application", default=APPLICATION, help="the ASGI application")
        parser.add_argument(
            "--grace",
            type=float,
            default=STOP_GRACE_SECONDS,
            help="seconds the children have to stop after SIGTERM before SIGKILL",
        )
        parser.add_argument("daphne_args", nargs="*", help="after --: more daphne options")

    def handle(self, *args, host, port, processes, application, grace, daphne_args, **options):
        try:
            count = web_process_count(
                settings.AGENTFIELD_WEB_PROCESSES,
                requested=processes,
                shared_state=bool(settings.REDIS_URL),
            )
            Launcher(
                host=host,
                port=port,
                count=count,
                ws_message_bytes=settings.AGENTFIELD_MAX_WS_MESSAGE_BYTES,
                application=application,
                daphne_args=daphne_args,
                grace=grace,
                log=self._log,
            ).run()
        except LauncherError as exc:
            raise CommandError(str(exc)) from None

    def _log(self, line: str) -> None:
        self.stderr.write(f"serve: {line}")
        self.stderr.flush()
