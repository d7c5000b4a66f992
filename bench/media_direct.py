"""``bench/media.py --media direct``: direct media against relay, and how many direct calls one
control-plane process holds.

Part 1, CPU per call-minute: the same aiortc callers with the same recorded Opus voice, once
relayed (their media goes through the control plane's peer) and once direct (their media
goes to the simulator's peer, the "provider"; the control plane holds only the sideband and
the runtime), at each level; CPU is the daphne processes' own.

Part 2, concurrency: direct calls on ONE daphne process whose callers run no media (each
offer is an aiortc peer's, the answer is never applied and the offer carries no candidates,
so the simulator's peer never connects and its call waits out ``--call-connect-timeout``).
Every call hears a user turn through ``/control/call-turn`` every ``--turn-every`` seconds
that names the session's one tool (``bench-node.work``, a real agent node, through Celery);
the simulator's log tells the function calls it issued and the ``function_call_output``
items it got back. A level passes when every turn got its tool call, every tool call its
output, and no session failed.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.media import cpu_seconds, machine_ticks
from bench.stack import percentile, start_bench_agent, work_node
from tests.sessions_app.webrtc_client import BrowserPeer

TOOL_NODE = "bench-node"
DIRECT = "direct"
TURN_TEXT = "please run work now"  # names the tool ``work``
OPEN_AT_ONCE = 16
DRAIN_S = 30.0  # after the last turn, how long a tool call's output may still come back


def voice_node(relay_session: dict) -> dict:
    """The voice node of ``bench/media.py`` with a second, direct, model-driven session."""
    direct = {**relay_session, "name": DIRECT, "media": "direct", "tools": [f"{TOOL_NODE}.work"]}
    sessions = [relay_session, direct]
    return {"id": "bench-voice", "base_url": "http://127.0.0.1:9", "sessions": sessions}


def prepare_direct(stack, relay_session: dict, agent_port: int):
    """The agent node (``work`` sleeps 5 ms) and the voice node; the agent's process."""
    bodies = [work_node(TOOL_NODE, agent_port), voice_node(relay_session)]
    return start_bench_agent(stack, agent_port, 5.0, bodies)


async def offer_direct(
    client: httpx.AsyncClient, base_url: str, key: str, sdp: str
) -> tuple[str, str]:
    """Start a direct session and post ``sdp``: (session id, the provider's answer)."""
    headers = {"X-API-Key": key}
    url = f"{base_url}/api/v1/session-targets/bench-voice.{DIRECT}/start"
    started = await client.post(url, json={}, headers=headers)
    started.raise_for_status()
    answer = await client.post(
        f"{base_url}{started.json()['offer_url']}",
        content=sdp,
        headers={**headers, "Content-Type": "application/sdp"},
    )
    answer.raise_for_status()
    return started.json()["session_id"], answer.text


async def provider_call_id(client: httpx.AsyncClient, base_url: str, key: str, sid: str) -> str:
    """The call id of the session's ``provider.call`` event (its replay log)."""
    url = f"{base_url}/api/v1/session-instances/{sid}/events"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        events = (await client.get(url, headers={"X-API-Key": key})).json()["events"]
        for event in events:
            if event["type"] == "provider.call":
                return event["data"]["call_id"]
        await asyncio.sleep(0.1)
    raise RuntimeError(f"no provider.call in {sid}'s log")


def media_opener(key: str, caller):
    """Part 1's direct callers: ``caller()``'s peer, connected to the simulator's peer."""

    async def open_call(client: httpx.AsyncClient, base_url: str) -> BrowserPeer:
        peer = caller(label="oai-events")
        _, answer = await offer_direct(client, base_url, key, await peer.offer())
        await peer.accept(answer)
        await peer.connected()
        return peer

    return open_call


def without_candidates(sdp: str) -> str:
    """The offer with no ICE candidates (nor their end): the provider's peer has nothing to
    check, so it neither connects nor fails."""
    drop = ("a=candidate:", "a=end-of-candidates")
    return "".join(line for line in sdp.splitlines(True) if not line.startswith(drop))


@dataclass
class Held:
    calls: int
    opened: int
    turns: int
    turn_errors: int
    function_calls: int
    outputs: int
    missed: int
    p50_ms: float
    p99_ms: float
    cpu_core: float  # the daphne process's CPU seconds per second
    rss_mb: float
    failed: int
    machine_busy: float
    simulator_core: float
    workers_core: float  # the Celery workers' processes, all of them
    bench_core: float  # this process: the callers and the turn driver

    @property
    def passed(self) -> bool:
        return self.opened == self.calls and not (self.missed or self.failed or self.turn_errors)


def group_cpu(groups: list[int]) -> float:
    """CPU seconds of every live process in these process groups."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) in groups:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def hold(
    stack, simulator: str, calls: int, window: float, turn_every: float, pids: dict[str, Any]
) -> Held:
    """Part 2 at one level: ``calls`` direct calls on ``stack.base_urls[0]``, driven for
    ``window`` seconds; the figures, then every call ended."""
    base, key = stack.base_urls[0], stack.caller_key
    httpx.post(f"{simulator}/control/reset").raise_for_status()
    limits = httpx.Limits(max_connections=OPEN_AT_ONCE * 4)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        gate = asyncio.Semaphore(OPEN_AT_ONCE)

        async def open_one() -> tuple[BrowserPeer, str, str]:
            async with gate:
                peer = BrowserPeer(label="oai-events", measure_audio=False)
                try:
                    sdp = without_candidates(await peer.offer())
                    sid, _ = await offer_direct(client, base, key, sdp)
                    return peer, sid, await provider_call_id(client, base, key, sid)
                except BaseException:
                    await peer.close()
                    raise

        opened = await asyncio.gather(*(open_one() for _ in range(calls)), return_exceptions=True)
        live = [o for o in opened if not isinstance(o, BaseException)]
        for failure in [o for o in opened if isinstance(o, BaseException)][:3]:
            print(f"  a call did not open: {failure!r}", flush=True)
        turns: dict[str, list[float]] = {call_id: [] for _, _, call_id in live}
        errors = 0
        await asyncio.sleep(2)
        began = time.monotonic()
        cpu_before, sim_before = cpu_seconds([pids["daphne"]]), cpu_seconds([pids["simulator"]])
        workers_before, bench_before = group_cpu(pids["workers"]), time.process_time()
        busy_before, total_before = machine_ticks()

        async def drive(call_id: str) -> None:
            nonlocal errors
            await asyncio.sleep(random.uniform(0, turn_every))
            while (sent := time.monotonic()) < began + window:
                body = {"call_id": call_id, "text": f"{TURN_TEXT}, turn {len(turns[call_id])}"}
                answer = await client.post(f"{simulator}/control/call-turn", json=body)
                if answer.status_code == 200:
                    turns[call_id].append(sent)
                else:
                    errors += 1
                await asyncio.sleep(max(0.0, sent + turn_every - time.monotonic()))

        await asyncio.gather(*(drive(call_id) for call_id in turns))
        elapsed = time.monotonic() - began
        cpu = cpu_seconds([pids["daphne"]]) - cpu_before
        sim_cpu = cpu_seconds([pids["simulator"]]) - sim_before
        workers_cpu = group_cpu(pids["workers"]) - workers_before
        bench_cpu = time.process_time() - bench_before
        busy, total = machine_ticks()
        memory = rss_mb(pids["daphne"])
        log = await drained(client, simulator, turns)
        headers = {"X-API-Key": key}
        urls = [f"{base}/api/v1/session-instances/{sid}" for _, sid, _ in live]
        statuses = await asyncio.gather(*(client.get(url, headers=headers) for url in urls))
        failed = calls - len(live)
        failed += sum(1 for s in statuses if s.json().get("status") != "active")
        await asyncio.gather(
            *(end_call(client, base, key, sid, peer) for peer, sid, _ in live),
            return_exceptions=True,
        )
    issued, outputs, latencies = tool_calls(log, turns)
    sent = sum(len(t) for t in turns.values())
    return Held(
        calls=calls,
        opened=len(live),
        turns=sent,
        turn_errors=errors,
        function_calls=issued,
        outputs=outputs,
        missed=max(0, sent - issued) + max(0, issued - outputs),
        p50_ms=statistics.median(latencies) if latencies else float("nan"),
        p99_ms=percentile(latencies, 0.99) if latencies else float("nan"),
        cpu_core=cpu / elapsed,
        rss_mb=memory,
        failed=failed,
        machine_busy=(busy - busy_before) / (total - total_before),
        simulator_core=sim_cpu / elapsed,
        workers_core=workers_cpu / elapsed,
        bench_core=bench_cpu / elapsed,
    )


async def drained(
    client: httpx.AsyncClient, simulator: str, turns: dict[str, list[float]]
) -> list[dict]:
    """The simulator's log once every turn's tool call has its output, or ``DRAIN_S`` on."""
    sent = sum(len(t) for t in turns.values())
    deadline = time.monotonic() + DRAIN_S
    while True:
        await asyncio.sleep(1)
        log = (await client.get(f"{simulator}/control/log")).json()["events"]
        issued, outputs, _ = tool_calls(log, turns)
        if (issued >= sent and outputs >= issued) or time.monotonic() > deadline:
            return log


async def end_call(client: httpx.AsyncClient, base: str, key: str, sid: str, peer) -> None:
    url = f"{base}/api/v1/session-instances/{sid}/end"
    await client.post(url, json={"reason": "bench over"}, headers={"X-API-Key": key})
    await peer.close()


def tool_calls(log: list[dict], turns: dict[str, list[float]]) -> tuple[int, int, list[float]]:
    """(function calls issued on our calls, their outputs received, ms from each call's
    turn to its output at the simulator). Both clocks are the machine's CLOCK_MONOTONIC."""
    call_of = {e["connection"]: e["call_id"] for e in log if e["type"] == "simulator.call_created"}
    issued: dict[str, tuple[str, float]] = {}
    for entry in log:
        call = call_of.get(entry.get("connection"))
        if entry["type"] == "simulator.function_call" and call in turns:
            issued[entry["call_id"]] = (call, entry["t"])
    outputs, latencies = 0, []
    for entry in log:
        item = entry.get("item") or {}
        if entry["type"] != "conversation.item.create" or item.get("call_id") not in issued:
            continue
        if item.get("type") != "function_call_output":
            continue
        outputs += 1
        call, called_at = issued[item["call_id"]]
        heard = [t for t in turns[call] if t <= called_at]
        if heard:
            latencies.append((entry["t"] - heard[-1]) * 1000)
    return len(issued), outputs, latencies


def held_row(level: Held) -> str:
    return (
        f"{level.calls:>5} | {level.opened:>6} | {level.turns:>5} | {level.function_calls:>5} |"
        f" {level.outputs:>7} | {level.missed:>6} | {level.p50_ms:7.1f} / {level.p99_ms:7.1f} |"
        f" {level.cpu_core:5.0%} | {level.rss_mb:6.0f} | {level.failed:>6} |"
        f" {level.machine_busy:4.0%} | {level.simulator_core:5.0%} |"
        f" {level.workers_core:5.0%} | {level.bench_core:5.0%} |"
        f" {'pass' if level.passed else 'FAIL'}"
    )


HELD_HEADER = (
    "calls | opened | turns | tool calls | outputs | missed | turn -> output ms p50 / p99 |"
    " daphne CPU (of a core) | daphne RSS MB | failed | machine busy | simulator CPU |"
    " workers CPU | bench CPU | level"
)
