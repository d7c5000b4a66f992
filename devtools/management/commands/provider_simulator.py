"""``python manage.py provider_simulator``: serve the OpenAI Realtime simulator until a signal.

Point the OpenAI adapter's base URL at the printed address. Loopback only. A WebRTC call
whose caller has not connected within ``--call-connect-timeout`` seconds is ended.
``--transcribe speech`` transcribes a caller's turns with the offline recognizer (the demo);
the default, ``duration``, names them ``speech of N milliseconds`` (tests, benchmarks).
Scripted transcripts (``/control/transcripts``) come first either way.
"""

from __future__ import annotations

import asyncio
import signal

from django.core.management.base import BaseCommand, CommandError

from provider_simulator.server import ProviderSimulator, is_loopback
from provider_simulator.state import TRANSCRIBE_MODES


class Command(BaseCommand):
    help = "Run the local OpenAI Realtime provider simulator until Ctrl-C or SIGTERM."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="a loopback address")
        parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
        parser.add_argument(
            "--pace", type=float, default=0.0, help="audio pacing: 0 = at once, 1.0 = real time"
        )
        parser.add_argument(
            "--call-connect-timeout",
            type=float,
            default=30.0,
            help="seconds a WebRTC call's caller has to connect before the call ends",
        )
        parser.add_argument(
            "--transcribe",
            choices=TRANSCRIBE_MODES,
            default="duration",
            help="unscripted turns: 'speech' = what the offline recognizer hears, "
            "'duration' = 'speech of N milliseconds'",
        )

    def handle(
        self,
        *args,
        host: str,
        port: int,
        pace: float,
        call_connect_timeout: float,
        transcribe: str,
        **options,
    ) -> None:
        if not is_loopback(host):
            raise CommandError(f"--host must be a loopback address, not {host!r}")
        if pace < 0:
            raise CommandError("--pace must be >= 0")
        if not call_connect_timeout > 0:
            raise CommandError("--call-connect-timeout must be > 0")
        try:
            asyncio.run(self._serve(host, port, pace, call_connect_timeout, transcribe))
        except OSError as exc:
            raise CommandError(f"cannot listen on {host}:{port}: {exc}") from exc

    async def _serve(
        self, host: str, port: int, pace: float, call_connect_timeout: float, transcribe: str
    ) -> None:
        loop = asyncio.get_running_loop()
        stopping = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stopping.set)
        simulator = ProviderSimulator(
            pace=pace, call_connect_timeout=call_connect_timeout, transcribe=transcribe
        )
        await simulator.start(host, port)
        try:
            self.stdout.write(f"provider simulator listening on {simulator.base_url}")
            self.stdout.flush()
            await stopping.wait()
        finally:
            await simulator.stop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
