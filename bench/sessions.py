"""Sessions benchmark, against a real stack, the provider simulator and a real agent node.

    .venv/bin/python bench/sessions.py --stack embedded
    .venv/bin/python bench/sessions.py --stack postgres

Prints session starts per second (N starts, C at once), and the p50/p99 latency from the
model's function call (the simulator sending it) to the function's result reaching the
provider (the simulator receiving ``function_call_output``): the WebSocket transport, the
runtime, the tool service, Celery, HTTP to the node and back, beyond the reasoner's time.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.stack import BENCH_TAG, percentile, running_stack, start_bench_agent, work_node
from provider_simulator import running_simulator
from provider_simulator.audio import silence, tone

AGENT_PORT = 8124
TOOL_NODE, VOICE_NODE = "bench-node", "bench-voice"


def speech_chunks() -> list[str]:
    """800 ms of voice, then the 700 ms of silence that ends the turn, in 100 ms appends."""
    pcm = tone(800) + silence(700)
    return [base64.b64encode(pcm[i : i + 4800]).decode() for i in range(0, len(pcm), 4800)]


def prepare(stack, work_ms: float) -> subprocess.Popen:
    session = {
        "name": "call",
        "provider": "openai",
        "transport": "websocket",
        "model": "gpt-realtime-2",
        "tools": [f"{TOOL_NODE}.work"],
        "tags": [BENCH_TAG],
    }
    voice = {"id": VOICE_NODE, "base_url": "http://127.0.0.1:9", "sessions": [session]}
    return start_bench_agent(stack, AGENT_PORT, work_ms, [work_node(TOOL_NODE, AGENT_PORT), voice])


async def starts(stack, total: int, concurrency: int) -> float:
    """Session starts per second with ``concurrency`` callers at once."""
    url = f"{stack.base_url}/api/v1/session-targets/{VOICE_NODE}.call/start"
    headers = {"X-API-Key": stack.caller_key}
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=60) as client:
        gate = asyncio.Semaphore(concurrency)

        async def one() -> None:
            async with gate:
                (await client.post(url, json={})).raise_for_status()

        await asyncio.gather(*(one() for _ in range(10)))  # warm up
        began = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(total)))
        return total / (time.perf_counter() - began)


async def tool_round_trips(stack, simulator, samples: int) -> list[tuple[float, float]]:
    """(function call -> result at the provider, reasoner ms) for ``samples`` spoken turns."""
    url = f"{stack.base_url}/api/v1/session-targets/{VOICE_NODE}.call/start"
    headers = {"X-API-Key": stack.caller_key}
    started = httpx.post(url, json={}, headers=headers)
    started.raise_for_status()
    sid = started.json()["session_id"]
    ws_url = stack.base_url.replace("http", "ws") + f"/api/v1/session-instances/{sid}/realtime"
    simulator.script_transcripts(["please run work now"] * samples)
    async with websockets.connect(ws_url, additional_headers=headers, max_size=None) as call:
        await until(call, "agentfield.session.active")
        for _ in range(samples):
            for chunk in speech_chunks():
                await call.send(json.dumps({"type": "input_audio_buffer.append", "audio": chunk}))
            await until(call, "agentfield.tool.result")
            await until(call, "response.output_audio_transcript.done")
    log = simulator.log()
    called = {e["call_id"]: e["t"] for e in log if e["type"] == "simulator.function_call"}
    trips = []
    for entry in log:
        item = entry.get("item") or {}
        if entry["type"] == "conversation.item.create" and item.get("call_id") in called:
            reasoner_ms = json.loads(item["output"]).get("reasoner_ms", 0.0)
            trips.append(((entry["t"] - called[item["call_id"]]) * 1000, reasoner_ms))
    return trips


async def until(socket, type: str) -> dict:
    while True:
        message = json.loads(await asyncio.wait_for(socket.recv(), 30))
        if message["type"] == type:
            return message
        if message["type"] == "agentfield.session.failed":
            raise RuntimeError(message)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", choices=["embedded", "postgres"], default="embedded")
    parser.add_argument("--starts", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--work-ms", type=float, default=5.0)
    args = parser.parse_args()
    with running_simulator() as simulator:
        os.environ.update(OPENAI_API_KEY="sk-bench", OPENAI_BASE_URL=simulator.base_url)
        with running_stack(args.stack, worker_concurrency=4) as stack:
            agent = prepare(stack, args.work_ms)
            try:
                per_second = asyncio.run(starts(stack, args.starts, args.concurrency))
                trips = asyncio.run(tool_round_trips(stack, simulator, args.samples))
            finally:
                agent.terminate()
                agent.wait()
    totals = [total for total, _ in trips]
    beyond = [total - reasoner for total, reasoner in trips]
    print(f"stack: {args.stack}  reasoner work: {args.work_ms} ms")
    print(f"session starts: {per_second:.0f}/s ({args.starts} starts, {args.concurrency} at once)")
    print(
        f"function call -> result at the provider, {len(trips)} calls: "
        f"p50 {statistics.median(totals):.1f} ms, p99 {percentile(totals, 0.99):.1f} ms; "
        f"beyond the reasoner p50 {statistics.median(beyond):.1f} ms, "
        f"p99 {percentile(beyond, 0.99):.1f} ms"
    )


if __name__ == "__main__":
    main()
