"""Media relay benchmark: what WebRTC calls cost the control plane, against aiortc's floor.

    .venv/bin/python bench/media.py                       # PostgreSQL + Redis, 2 daphnes
    .venv/bin/python bench/media.py --stack embedded --levels 1,10,20
    .venv/bin/python bench/media.py --media direct        # relay against direct media

For each number of concurrent calls (1, 10, 16, 20 by default) against the provider simulator
(replies streamed in real time), spread round robin over several daphne processes (the one
that answers an offer owns that call), it measures over a window:

- CPU seconds the daphne processes spend per minute of relayed call;
- the added latency from a microphone frame's arrival to its bytes leaving for the
  provider, p50 / p99 (measured by ``bench/media_app.py``'s ``TimedMicPump``);

then the same for a bare aiortc echo peer (``bench/media_echo.py``: MediaRelay, nothing
else; latency to the echoed frame's encoded bytes) in as many processes, as the floor. The
callers are aiortc peers in this process; each speaks an 800 ms turn every 4 s.

``--media direct`` measures relay against direct media and how many direct calls one
daphne holds instead (``bench/media_direct.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import httpx
from aiortc.mediastreams import MediaStreamTrack

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.stack import BENCH_TAG, PYTHON, ROOT, percentile, register_bench_nodes, running_stack
from provider_simulator.audio import silence, tone
from tests.sessions_app.webrtc_client import BrowserPeer

VOICE_NODE = "bench-voice"
SPEAK_EVERY_S = 4.0
WARM_UP_S = 3.0
TRANSCRIPT = "hello there"

Opener = Callable[[httpx.AsyncClient, str], Awaitable[BrowserPeer]]


@dataclass
class Figures:
    calls: int
    cpu_per_call_minute: float
    p50_ms: float
    p99_ms: float
    frames_per_call_second: float
    machine_busy: float


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of the processes, in seconds."""
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


RELAY_SESSION = {
    "name": "call",
    "provider": "openai",
    "transport": "webrtc",
    "model": "gpt-realtime-2",
    "tags": [BENCH_TAG],
}


def prepare(stack) -> None:
    """A voice node with a webrtc session anyone tagged ``bench`` may start."""
    body = {"id": VOICE_NODE, "base_url": "http://127.0.0.1:9", "sessions": [RELAY_SESSION]}
    register_bench_nodes(stack, [body])


async def connected(peer: BrowserPeer, answer: httpx.Response) -> BrowserPeer:
    answer.raise_for_status()
    await peer.accept(answer.text)
    await peer.connected()
    return peer


def relay_opener(caller_key: str) -> Opener:
    headers = {"X-API-Key": caller_key}

    async def open_call(client: httpx.AsyncClient, base_url: str) -> BrowserPeer:
        url = f"{base_url}/api/v1/session-targets/{VOICE_NODE}.call/start"
        started = await client.post(url, json={}, headers=headers)
        started.raise_for_status()
        peer = caller()
        answer = await client.post(
            f"{base_url}{started.json()['offer_url']}",
            content=await peer.offer(),
            headers={**headers, "Content-Type": "application/sdp"},
        )
        await connected(peer, answer)
        await peer.until("session.active")
        return peer

    return open_call


def caller(label: str = "events") -> BrowserPeer:
    offset = random.randrange(len(RecordedVoice.packets) or 1000)
    return BrowserPeer(measure_audio=False, mic=RecordedVoice(offset), label=label)


async def echo_open(client: httpx.AsyncClient, base_url: str) -> BrowserPeer:
    peer = caller()
    answer = await client.post(f"{base_url}/offer", content=await peer.offer())
    return await connected(peer, answer)


def _voice_loop() -> list[bytes]:
    """Opus packets (48 kHz mono, 32 kbps, as browsers send) of 800 ms of voice (the
    simulator's tone) and then silence, SPEAK_EVERY_S long."""
    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate, encoder.layout, encoder.format = 48000, "mono", "s16"
    encoder.bit_rate = 32000
    resampler = av.AudioResampler(format="s16", layout="mono", rate=48000, frame_size=960)
    pcm = tone(800) + silence(int(SPEAK_EVERY_S * 1000) - 800)
    source = av.AudioFrame(format="s16", layout="mono", samples=len(pcm) // 2)
    source.planes[0].update(pcm)
    source.sample_rate, source.pts, source.time_base = 24000, 0, Fraction(1, 24000)
    packets = []
    for frame in [*resampler.resample(source), *resampler.resample(None)]:
        packets += encoder.encode(frame)
    packets += encoder.encode(None)
    return [bytes(packet) for packet in packets]


class RecordedVoice(MediaStreamTrack):
    """A caller's microphone, encoded once up front: the callers stand for browsers on
    other machines, so they should not spend this machine's CPU encoding."""

    kind = "audio"
    packets: list[bytes] = []

    def __init__(self, offset: int) -> None:
        super().__init__()
        if not RecordedVoice.packets:
            RecordedVoice.packets = _voice_loop()
        self._index = offset
        self._start: float | None = None

    async def recv(self) -> av.Packet:
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time() - self._index * 0.02
        wait = self._start + self._index * 0.02 - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        packet = av.Packet(self.packets[self._index % len(self.packets)])
        packet.pts, packet.time_base = self._index * 960, Fraction(1, 48000)
        self._index += 1
        return packet


async def measure(
    calls: int,
    open_call: Opener,
    urls: list[str],
    delays_path: str | None,
    pids: list[int],
    window: float,
) -> Figures:
    """``delays_path`` None: a path with no delay probe (direct calls); no latency then."""
    async with httpx.AsyncClient(timeout=60) as client:

        async def take_delays() -> list[float]:
            if delays_path is None:
                return []
            answers = [await client.get(f"{url}{delays_path}") for url in urls]
            return [delay for answer in answers for delay in answer.json()]

        peers = [await open_call(client, urls[i % len(urls)]) for i in range(calls)]
        try:
            await asyncio.sleep(WARM_UP_S)
            await take_delays()
            began, cpu_before, (busy_before, total_before) = (
                time.monotonic(),
                cpu_seconds(pids),
                machine_ticks(),
            )
            await asyncio.sleep(window)
            elapsed = time.monotonic() - began
            cpu = cpu_seconds(pids) - cpu_before
            busy, total = machine_ticks()
            delays = [d * 1000 for d in await take_delays()]
        finally:
            await asyncio.gather(*(peer.close() for peer in peers), return_exceptions=True)
    await asyncio.sleep(1)  # let the servers release the calls
    return Figures(
        calls=calls,
        cpu_per_call_minute=cpu / (calls * elapsed / 60),
        p50_ms=statistics.median(delays) if delays else float("nan"),
        p99_ms=percentile(delays, 0.99) if delays else float("nan"),
        frames_per_call_second=len(delays) / (calls * elapsed),
        machine_busy=(busy - busy_before) / (total - total_before),
    )


def start_process(argv: list[str], health_url: str, env: dict | None = None) -> subprocess.Popen:
    process = subprocess.Popen(argv, cwd=ROOT, env=env, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(health_url, timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{argv} did not start")


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def script_simulator(base: str) -> None:
    httpx.post(f"{base}/control/reset").raise_for_status()
    transcripts = {"transcripts": [TRANSCRIPT] * 5000}
    httpx.post(f"{base}/control/transcripts", json=transcripts).raise_for_status()


def row(relay: Figures, floor: Figures) -> str:
    ratio = relay.cpu_per_call_minute / floor.cpu_per_call_minute
    return (
        f"{relay.calls:>5} | {relay.cpu_per_call_minute:8.2f} | {floor.cpu_per_call_minute:8.2f} |"
        f" {ratio:5.2f} | {relay.p50_ms:6.2f} / {relay.p99_ms:6.2f} |"
        f" {floor.p50_ms:6.2f} / {floor.p99_ms:6.2f} | {relay.frames_per_call_second:5.1f} |"
        f" {relay.machine_busy:4.0%} / {floor.machine_busy:4.0%}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", choices=["embedded", "postgres"], default="postgres")
    parser.add_argument("--processes", type=int, default=2, help="daphnes, and echo peers")
    parser.add_argument("--levels", help="concurrent calls (default 1,10,16,20; direct: 1,10)")
    parser.add_argument("--window", type=float, default=20.0, help="seconds measured per level")
    parser.add_argument(
        "--media",
        choices=["relay", "direct"],
        default="relay",
        help="direct: relay against direct calls, then direct calls held by one daphne",
    )
    parser.add_argument("--hold-levels", default="50,100,200,300", help="direct calls held")
    parser.add_argument("--hold-window", type=float, default=30.0, help="seconds driven per level")
    parser.add_argument("--turn-every", type=float, default=5.0, help="seconds between turns")
    args = parser.parse_args()
    if args.media == "direct":
        from bench.media_direct_run import run_direct

        run_direct(args)
        return
    levels = [int(level) for level in (args.levels or "1,10,16,20").split(",")]

    sim_port = free_port()
    simulator_base = f"http://127.0.0.1:{sim_port}"
    simulator = start_process(
        [PYTHON, "manage.py", "provider_simulator", "--port", str(sim_port), "--pace", "1.0"],
        f"{simulator_base}/control/log",
    )
    echo_urls = []
    echoes = []
    try:
        for _ in range(args.processes):
            port = free_port()
            echo_urls.append(f"http://127.0.0.1:{port}")
            echoes.append(
                start_process(
                    [PYTHON, str(ROOT / "bench" / "media_echo.py"), str(port)],
                    f"{echo_urls[-1]}/healthz",
                )
            )
        os.environ.update(
            OPENAI_API_KEY="sk-bench",
            OPENAI_BASE_URL=f"{simulator_base}/v1",
            AGENTFIELD_WEBRTC_ICE_HOSTS="127.0.0.1",
        )
        with running_stack(
            args.stack, workers=0, daphnes=args.processes, app="bench.media_app:application"
        ) as stack:
            prepare(stack)
            daphne_pids = [p.pid for p in stack.daphne_processes]
            echo_pids = [p.pid for p in echoes]
            results = []
            for calls in levels:
                script_simulator(simulator_base)
                relay = asyncio.run(
                    measure(
                        calls,
                        relay_opener(stack.caller_key),
                        stack.base_urls,
                        "/__bench__/delays",
                        daphne_pids,
                        args.window,
                    )
                )
                floor = asyncio.run(
                    measure(calls, echo_open, echo_urls, "/delays", echo_pids, args.window)
                )
                results.append((relay, floor))
                print(row(relay, floor), flush=True)
    finally:
        stop([*echoes, simulator])
    print(
        f"\nstack: {args.stack}; {args.processes} daphne processes (relay) and "
        f"{args.processes} echo processes (floor); {args.window:g} s measured per level; "
        f"{os.cpu_count()} CPUs"
    )
    print(
        "calls | relay CPU s/min | floor CPU s/min | ratio | relay added ms p50 / p99 |"
        " floor ms p50 / p99 | relay frames/s/call | machine busy relay / floor"
    )
    for relay, floor in results:
        print(row(relay, floor))


if __name__ == "__main__":
    main()
