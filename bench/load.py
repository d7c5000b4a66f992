"""Load: N concurrent sessions over the WebSocket transport, each making tool calls.

    .venv/bin/python bench/load.py --stack postgres --sessions 50 --seconds 60
    .venv/bin/python bench/load.py --stack embedded --sessions 20 --seconds 30

Against a throw-away stack, the provider simulator and a real agent node process. Each
session speaks turns that make the model call a tool (a reasoner of ``--work-ms``), back to
back, for ``--seconds``. Prints the sessions held, tool calls per second, the p50/p99 tool
round trip as the caller sees it (spoken turn committed -> tool result event), errors, and
the control plane's memory (daphne and worker RSS) before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path

import httpx
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.sessions import VOICE_NODE, prepare, speech_chunks
from bench.stack import percentile, running_stack
from provider_simulator import running_simulator


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        for child in [pid, *_descendants(pid)]:
            try:
                for line in Path(f"/proc/{child}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            except OSError:
                continue
    return total / 1024


def _descendants(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                child = int(stat.parent.name)
                found += [child, *_descendants(child)]
        except (OSError, IndexError, ValueError):
            continue
    return found


async def one_session(stack, deadline: float, trips: list[float], errors: list[str]) -> bool:
    """Speak tool-calling turns until the deadline. True if the session held to the end."""
    headers = {"X-API-Key": stack.caller_key}
    url = f"{stack.base_url}/api/v1/session-targets/{VOICE_NODE}.call/start"
    async with httpx.AsyncClient(timeout=60) as client:
        started = await client.post(url, json={}, headers=headers)
    if started.status_code != 201:
        errors.append(f"start {started.status_code}")
        return False
    sid = started.json()["session_id"]
    ws_url = stack.base_url.replace("http", "ws") + f"/api/v1/session-instances/{sid}/realtime"
    try:
        async with websockets.connect(ws_url, additional_headers=headers, max_size=None) as call:
            await _until(call, "agentfield.session.active")
            while time.monotonic() < deadline:
                for chunk in speech_chunks():
                    await call.send(
                        json.dumps({"type": "input_audio_buffer.append", "audio": chunk})
                    )
                await _until(call, "input_audio_buffer.speech_stopped")
                began = time.perf_counter()
                result = await _until(call, "agentfield.tool.result")
                trips.append((time.perf_counter() - began) * 1000)
                if result.get("status") != "succeeded":
                    errors.append(f"tool {result.get('status')}")
                await _until(call, "response.done")
        return True
    except (OSError, websockets.WebSocketException, TimeoutError, RuntimeError) as exc:
        errors.append(f"{type(exc).__name__}: {exc}"[:120])
        return False


async def _until(socket, type: str) -> dict:
    while True:
        message = json.loads(await asyncio.wait_for(socket.recv(), 60))
        if message["type"] == type:
            return message
        if message["type"] == "agentfield.session.failed":
            raise RuntimeError(message.get("reason"))


async def drive(stack, sessions: int, seconds: float):
    trips: list[float] = []
    errors: list[str] = []
    deadline = time.monotonic() + seconds
    began = time.monotonic()
    held = await asyncio.gather(
        *(one_session(stack, deadline, trips, errors) for _ in range(sessions))
    )
    return sum(held), trips, errors, time.monotonic() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", choices=["embedded", "postgres"], default="embedded")
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--work-ms", type=float, default=5.0)
    args = parser.parse_args()
    with running_simulator() as simulator:
        simulator.script_transcripts(["please run work now"] * 100_000)
        os.environ.update(OPENAI_API_KEY="sk-bench", OPENAI_BASE_URL=simulator.base_url)
        with running_stack(args.stack, worker_concurrency=4) as stack:
            agent = prepare(stack, args.work_ms)
            pids = [process.pid for process in stack.processes]
            try:
                before = rss_mb(pids)
                held, trips, errors, elapsed = asyncio.run(
                    drive(stack, args.sessions, args.seconds)
                )
                after = rss_mb(pids)
            finally:
                agent.terminate()
                agent.wait()
    print(f"stack: {args.stack}  sessions: {args.sessions}  for {args.seconds:g} s")
    print(f"sessions held to the end: {held}/{args.sessions}")
    print(f"tool calls: {len(trips)} in {elapsed:.1f} s = {len(trips) / elapsed:.1f}/s")
    if trips:
        print(
            f"tool round trip (turn committed -> tool result): "
            f"p50 {statistics.median(trips):.1f} ms, p99 {percentile(trips, 0.99):.1f} ms"
        )
    print(f"errors: {len(errors)} {sorted(set(errors))[:5]}")
    print(f"control plane memory (daphne + workers RSS): {before:.0f} MB -> {after:.0f} MB")


if __name__ == "__main__":
    main()
