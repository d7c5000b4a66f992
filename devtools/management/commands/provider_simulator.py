"""``python manage.py provider_simulator``: serve the OpenAI Realtime simulator until a signal.

Point the OpenAI adapter's base URL at the printed address. Loopback only.
"""

from __future__ import annotations

import asyncio
import signal

from django.core.management.base import BaseCommand, CommandError

from provider_simulator.server import ProviderSimulator, is_loopback


class Command(BaseCommand):
    help = "Run the local OpenAI Realtime provider simulator until Ctrl-C or SIGTERM."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="a loopback address")
        parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
        parser.add_argument(
            "--pace", type=float, default=0.0, help="audio pacing: 0 = at once, 1.0 = real time"
        )

    def handle(self, *args, host: str, port: int, pace: float, **options) -> None:
        if not is_loopback(host):
            raise CommandError(f"--host must be a loopback address, not {host!r}")
        if pace < 0:
            raise CommandError("--pace must be >= 0")
        try:
            asyncio.run(self._serve(host, port, pace))
        except OSError as exc:
            raise CommandError(f"cannot listen on {host}:{port}: {exc}") from exc

    async def _serve(self, host: str, port: int, pace: float) -> None:
        loop = asyncio.get_running_loop()
        stopping = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stopping.set)
        simulator = ProviderSimulator(pace=pace)
        await simulator.start(host, port)
        try:
            self.stdout.write(f"provider simulator listening on {simulator.base_url}")
            self.stdout.flush()
            await stopping.wait()
        finally:
            await simulator.stop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
