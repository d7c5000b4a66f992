"""Serving capacity: requests per second and p50/p99 at 1, 50 and 500 in flight, per path.

    .venv/bin/python bench/serving.py --stack postgres            # manage.py serve, every core
    .venv/bin/python bench/serving.py --stack postgres --layout daphne   # one daphne process
    .venv/bin/python bench/serving.py --stack embedded

Against a throw-away stack on loopback, served as ``make run`` serves (``manage.py serve``)
or as before issue 23 (one daphne). One run per path and level, alternated: every round
runs every level and every path, in an order rotated each round. The load is closed-loop,
from two client processes (``bench/load_client.py``): each connection sends its next
request when its last answer is read. The floor is a bare Django view behind the same
server and middleware (``bench/serving_urls.py``); each path's ratio is the floor's
requests per second over its own. "server p50" is the serving process's own time, from
each response's ``Server-Timing`` (``bench/serving_app.py``). Callers rotate over
``--callers`` API keys (as many callers would), with the per-caller limits raised so that
they measure nothing here. No Celery worker runs: accepted executions wait in the broker,
so the figures are the serving path's alone.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import load_client
from bench.load_client import Load
from bench.stack import (
    BENCH_TAG,
    manage,
    percentile,
    register_bench_nodes,
    running_stack,
    work_node,
)

TOOL_NODE, VOICE_NODE = "bench-node", "bench-voice"
PATHS: dict[str, tuple[str, str, str, bool]] = {
    # name: (method, path, body, sends a caller key)
    "floor": ("GET", "/__bench__/floor", "", False),
    "/api/v1/me": ("GET", "/api/v1/me", "", True),
    "/healthz": ("GET", "/healthz", "", False),
    "session start": ("POST", f"/api/v1/session-targets/{VOICE_NODE}.call/start", "{}", True),
    "execute/async": ("POST", f"/api/v1/execute/async/{TOOL_NODE}.work", '{"input": {}}', True),
}
CALLER_KEYS_SCRIPT = """
from access_app.services.api_keys import api_key_create
for index in range({count}):
    print(api_key_create(name=f"bench-caller-{{index}}", role="caller", tags=["bench"])[1])
"""


def prepare(stack, callers: int) -> list[str]:
    """The session and tool targets, approved and allowed; ``callers`` caller keys."""
    session = {"name": "call", "provider": "openai", "transport": "websocket", "tags": [BENCH_TAG]}
    voice = {"id": VOICE_NODE, "base_url": "http://127.0.0.1:9", "sessions": [session]}
    register_bench_nodes(stack, [work_node(TOOL_NODE, 9), voice])
    script = CALLER_KEYS_SCRIPT.format(count=callers)
    keys = manage(stack.env, "shell", "--no-imports", "-c", script).split()
    for name, (method, route, body, keyed) in PATHS.items():
        headers = {"Content-Type": "application/json"}
        if keyed:
            headers["X-API-Key"] = keys[0]
        response = httpx.request(
            method, stack.base_url + route, content=body or None, headers=headers
        )
        if response.status_code >= 300:
            raise RuntimeError(f"{name}: {response.status_code} {response.text[:200]}")
    return keys


def run_load(base_url: str, name: str, in_flight: int, seconds: float, keys: list[str]) -> dict:
    method, route, body, keyed = PATHS[name]
    load = Load(
        base_url + route,
        method,
        body.encode() or None,
        keys if keyed else [],
        connections=in_flight,
        seconds=seconds,
    )
    outcome = load_client.run(load)
    latencies = outcome.latencies_ms
    return {
        "rps": len(latencies) / outcome.seconds,
        "p50": percentile(latencies, 0.50),
        "p99": percentile(latencies, 0.99),
        "server p50": percentile(outcome.server_ms, 0.50) if outcome.server_ms else 0.0,
        "errors": outcome.errors,
    }


def measure(stack, keys: list[str], levels: list[int], rounds: int, seconds: float) -> dict:
    names = list(PATHS)
    results: dict[tuple[str, int], list[dict]] = defaultdict(list)
    for name in names:  # warm every path (and the server's connections) once
        run_load(stack.base_url, name, 50, 1, keys)
    for round_index in range(rounds):
        order = names[round_index % len(names) :] + names[: round_index % len(names)]
        for level in levels:
            for name in order:
                results[(name, level)].append(run_load(stack.base_url, name, level, seconds, keys))
                time.sleep(0.5)
        print(f"round {round_index + 1}/{rounds} done", file=sys.stderr)
    return results


def report(results: dict, levels: list[int]) -> None:
    def median(name: str, level: int, field: str) -> float:
        return statistics.median(run[field] for run in results[(name, level)])

    print(
        f"{'path':<16}{'in flight':>10}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'server p50':>12}{'errors':>8}{'floor/path':>12}"
    )
    for level in levels:
        floor = median("floor", level, "rps")
        for name in PATHS:
            rps = median(name, level, "rps")
            errors = sum(run["errors"] for run in results[(name, level)])
            ratio = f"{floor / rps:.2f}" if rps else "-"
            print(
                f"{name:<16}{level:>10}{rps:>9.0f}{median(name, level, 'p50'):>9.2f}"
                f"{median(name, level, 'p99'):>9.1f}{median(name, level, 'server p50'):>12.2f}"
                f"{errors:>8}{ratio:>12}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", choices=["embedded", "postgres"], default="postgres")
    parser.add_argument("--layout", choices=["serve", "daphne"], default="serve")
    parser.add_argument("--processes", default="auto", help="web processes (serve layout)")
    parser.add_argument("--levels", default="1,50,500")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--callers", type=int, default=200)
    args = parser.parse_args()
    levels = [int(level) for level in args.levels.split(",")]
    processes = None
    if args.layout == "serve":
        # as ``AGENTFIELD_WEB_PROCESSES=auto`` sizes it: the embedded stack runs one
        auto = 1 if args.stack == "embedded" else os.cpu_count() or 1
        processes = auto if args.processes == "auto" else int(args.processes)
    with running_stack(
        args.stack,
        workers=0,
        app="bench.serving_app:application",
        serve_processes=processes,
        DJANGO_SETTINGS_MODULE="bench.serving_settings",
    ) as stack:
        keys = prepare(stack, args.callers)
        results = measure(stack, keys, levels, args.rounds, args.seconds)
    layout = f"serve, {processes} processes" if processes else "one daphne"
    print(
        f"stack: {args.stack}  layout: {layout}  medians of {args.rounds} rounds "
        f"of {args.seconds:g} s per path and level"
    )
    report(results, levels)


if __name__ == "__main__":
    main()
