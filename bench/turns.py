"""Audio turns benchmark, against a real stack, the provider simulator and a real agent node.

    .venv/bin/python bench/turns.py --stack embedded
    .venv/bin/python bench/turns.py --stack postgres

Sends spoken turns (a 1 s WAV, JSON, one after another) to
``POST /api/v1/session-instances/<id>/turns`` and prints the control plane's own overhead
per turn: the client's round trip minus the time the provider spent on the turn (the union
of the simulator's request intervals: speech to text and chat completions side by side,
then the follow-up after a tool). Plain turns (the model answers), then tool turns (the
model calls a 5 ms reasoner on a real node through Celery, and speaks its result), where
the reasoner's own time is taken out too.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.stack import (
    BENCH_TAG,
    free_port,
    percentile,
    running_stack,
    start_bench_agent,
    work_node,
)
from provider_simulator import running_simulator
from provider_simulator.audio import tone
from sessions_app.transports.audio_files import pcm_to_wav

AGENT_PORT = free_port()
TOOL_NODE, TURNS_NODE = "bench-node", "bench-turns"
WARM_UP = 5


def clip(ms: int) -> dict:
    return {"audio": {"data": base64.b64encode(pcm_to_wav(tone(ms))).decode(), "format": "wav"}}


def prepare(stack, work_ms: float) -> subprocess.Popen:
    session = {
        "name": "talk",
        "provider": "openrouter",
        "transport": "audio_turns",
        "model": "openai/gpt-audio-mini",
        "voice": "alloy",
        "tools": [f"{TOOL_NODE}.work"],
        "tags": [BENCH_TAG],
    }
    turns = {"id": TURNS_NODE, "base_url": "http://127.0.0.1:9", "sessions": [session]}
    return start_bench_agent(stack, AGENT_PORT, work_ms, [work_node(TOOL_NODE, AGENT_PORT), turns])


def provider_spans(log: list[dict]) -> list[tuple[float, float]]:
    """(start, end) of every provider request the simulator answered."""
    spans, open_chats = [], []
    for entry in log:
        if entry["type"] == "transcription.request":
            spans.append((entry["t0"], entry["t"]))
        elif entry["type"] == "chat.request":
            open_chats.append(entry["t0"])
        elif entry["type"] == "chat.done" and open_chats:
            spans.append((open_chats.pop(0), entry["t"]))
    return spans


def union_ms(spans: list[tuple[float, float]], start: float, end: float) -> float:
    """How long at least one span was running inside [start, end]."""
    total, reach = 0.0, start
    clipped = sorted((max(a, start), min(b, end)) for a, b in spans)
    for a, b in ((a, b) for a, b in clipped if b > a):
        if b > reach:
            total += b - max(a, reach)
            reach = b
    return total * 1000


def run_turns(stack, simulator, sid: str, body: dict, samples: int) -> list[tuple[float, float]]:
    """(round trip ms, provider ms) per turn, after a warm-up."""
    url = f"{stack.base_url}/api/v1/session-instances/{sid}/turns"
    headers = {"X-API-Key": stack.caller_key}
    windows = []
    with httpx.Client(headers=headers, timeout=60) as client:
        for index in range(WARM_UP + samples):
            began = time.monotonic()
            response = client.post(url, json=body)
            ended = time.monotonic()
            response.raise_for_status()
            if index >= WARM_UP:
                windows.append((began, ended))
    spans = provider_spans(simulator.log())
    return [((b - a) * 1000, union_ms(spans, a, b)) for a, b in windows]


def reasoner_ms(simulator) -> list[float]:
    """The reasoner's own time, from each tool result the model was sent."""
    times = []
    for entry in simulator.log():
        if entry["type"] == "chat.request" and entry["messages"][-1]["role"] == "tool":
            times.append(json.loads(entry["messages"][-1]["text"]).get("reasoner_ms", 0.0))
    return times


def start_session(stack) -> str:
    url = f"{stack.base_url}/api/v1/session-targets/{TURNS_NODE}.talk/start"
    started = httpx.post(url, json={}, headers={"X-API-Key": stack.caller_key})
    started.raise_for_status()
    return started.json()["session_id"]


def summary(label: str, overheads: list[float], totals: list[float]) -> str:
    return (
        f"{label}, {len(overheads)} turns: round trip p50 {statistics.median(totals):.1f} ms; "
        f"control plane overhead p50 {statistics.median(overheads):.1f} ms, "
        f"p99 {percentile(overheads, 0.99):.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", choices=["embedded", "postgres"], default="embedded")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--tool-samples", type=int, default=100)
    parser.add_argument("--work-ms", type=float, default=5.0)
    args = parser.parse_args()
    with running_simulator() as simulator:
        os.environ.update(OPENROUTER_API_KEY="sk-or-bench", OPENROUTER_BASE_URL=simulator.base_url)
        with running_stack(args.stack, port=free_port(), worker_concurrency=4) as stack:
            agent = prepare(stack, args.work_ms)
            try:
                plain = run_turns(stack, simulator, start_session(stack), clip(1000), args.samples)
                simulator.reset()
                simulator.script_transcripts(["please run work now"])
                sid = start_session(stack)
                tools = run_turns(stack, simulator, sid, clip(1100), args.tool_samples)
                work = reasoner_ms(simulator)[WARM_UP:]
            finally:
                agent.terminate()
                agent.wait()
    print(f"stack: {args.stack}  (1 s WAV turns; reasoner work {args.work_ms} ms)")
    print(summary("plain turns", [t - p for t, p in plain], [t for t, _ in plain]))
    beyond = [t - p - w for (t, p), w in zip(tools, work, strict=True)]
    print(summary("tool turns (overhead beyond the reasoner)", beyond, [t for t, _ in tools]))
    print(f"provider time per plain turn p50 {statistics.median(p for _, p in plain):.1f} ms")


if __name__ == "__main__":
    main()
