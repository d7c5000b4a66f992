"""Execution path benchmark, against a real stack and a real agent node process.

    .venv/bin/python bench/executions.py --stack embedded
    .venv/bin/python bench/executions.py --stack postgres

Prints accepted and completed executions per second for N concurrent submissions, whether
any was lost or duplicated, and the p50/p99 overhead of one round trip (sync route: accept,
queue, worker, HTTP to the agent, record, wake the waiter) beyond the reasoner's own time.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.stack import percentile, running_stack, start_bench_agent, work_node

AGENT_PORT = 8124
NODE = "bench-node"
TERMINAL = {"succeeded", "failed", "timeout", "cancelled"}
WARM_UP = 5


def prepare(stack, work_ms: float) -> subprocess.Popen:
    return start_bench_agent(stack, AGENT_PORT, work_ms, [work_node(NODE, AGENT_PORT)])


async def throughput(stack, total: int, concurrency: int) -> dict[str, float]:
    headers = {"X-API-Key": stack.caller_key}
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=stack.base_url, headers=headers, limits=limits, timeout=120
    ) as client:
        gate = asyncio.Semaphore(concurrency)

        refused = 0

        async def submit(i: int) -> str:
            nonlocal refused
            async with gate:
                while True:
                    response = await client.post(
                        f"/api/v1/execute/async/{NODE}.work", json={"input": {"i": i}}
                    )
                    if response.status_code != 503:  # overloaded: back off as told
                        break
                    refused += 1
                    await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
                response.raise_for_status()
                return response.json()["execution_id"]

        started = time.perf_counter()
        ids = await asyncio.gather(*(submit(i) for i in range(total)))
        accepted_s = time.perf_counter() - started
        pending = set(ids)
        statuses: dict[str, str] = {}
        while pending:
            batch = list(pending)[:1000]
            response = await client.post(
                "/api/v1/executions/batch-status", json={"execution_ids": batch}
            )
            for execution_id, info in response.json().items():
                if info["status"] in TERMINAL:
                    statuses[execution_id] = info["status"]
                    pending.discard(execution_id)
            if pending:
                await asyncio.sleep(0.05)
            if time.perf_counter() - started > 600:
                break
        completed_s = time.perf_counter() - started
    agent_stats = httpx.get(f"http://127.0.0.1:{AGENT_PORT}/stats").json()
    return {
        "submitted": total,
        "refused_503": refused,
        "distinct_ids": len(set(ids)),
        "accepted_per_s": total / accepted_s,
        "completed_per_s": len(statuses) / completed_s,
        "succeeded": sum(1 for s in statuses.values() if s == "succeeded"),
        "not_finished": len(pending),
        "agent_saw": agent_stats["executions"],
        "agent_duplicates": agent_stats["duplicates"],
    }


def sequential(stack, samples: int, one_call) -> list[float]:
    """Run ``one_call(client, i)`` one at a time; keep the figures after the warm-up."""
    with httpx.Client(
        base_url=stack.base_url, headers={"X-API-Key": stack.caller_key}, timeout=60
    ) as client:
        values = [one_call(client, i) for i in range(samples + WARM_UP)]
    return values[WARM_UP:]


# The async figure ends at the server's own ``completed_at``, so when the client looks does
# not change it; looking only after this long keeps the bench's polling from competing for
# the CPU with the very trip it measures (on a 2-core machine it otherwise does).
FIRST_POLL_AFTER_S = 0.1


def async_round_trip(client: httpx.Client, i: int) -> float:
    """Async route; the round trip ends when the control plane records the result
    (``completed_at``, same machine clock). Minus the reasoner's own time."""
    submitted = time.time()
    response = client.post(f"/api/v1/execute/async/{NODE}.work", json={"input": {"i": i}})
    response.raise_for_status()
    execution_id = response.json()["execution_id"]
    time.sleep(FIRST_POLL_AFTER_S)
    body = client.get(f"/api/v1/executions/{execution_id}").json()
    while body["status"] not in TERMINAL:
        time.sleep(0.02)
        body = client.get(f"/api/v1/executions/{execution_id}").json()
    assert body["status"] == "succeeded", body
    completed = datetime.fromisoformat(body["completed_at"].replace("Z", "+00:00"))
    return (completed.timestamp() - submitted) * 1000 - body["result"]["reasoner_ms"]


def sync_round_trip(client: httpx.Client, i: int) -> float:
    """Sync route: from submission to the response. Minus the reasoner's own time."""
    started = time.perf_counter()
    response = client.post(f"/api/v1/execute/{NODE}.work", json={"input": {"i": i}})
    elapsed_ms = (time.perf_counter() - started) * 1000
    response.raise_for_status()
    body = response.json()
    assert body["status"] == "succeeded", body
    return elapsed_ms - body["result"]["reasoner_ms"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", choices=["embedded", "postgres"], default="embedded")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--work-ms", type=float, default=5.0)
    parser.add_argument("--worker-concurrency", type=int, default=4)
    args = parser.parse_args()
    with running_stack(args.stack, worker_concurrency=args.worker_concurrency) as stack:
        agent = prepare(stack, args.work_ms)
        try:
            async_trips = sequential(stack, args.samples, async_round_trip)
            round_trips = sequential(stack, args.samples, sync_round_trip)
            load = asyncio.run(throughput(stack, args.requests, args.concurrency))
        finally:
            agent.terminate()
            agent.wait()
    print(
        f"stack: {args.stack}  reasoner work: {args.work_ms} ms  "
        f"worker concurrency: {args.worker_concurrency}"
    )
    for label, values in (
        ("async round trip (submit -> result recorded)", async_trips),
        ("sync route round trip (submit -> response)", round_trips),
    ):
        print(
            f"{label} beyond the reasoner, {len(values)} sequential: "
            f"p50 {statistics.median(values):.1f} ms, p99 {percentile(values, 0.99):.1f} ms"
        )
    print(
        f"{load['submitted']} submissions, {args.concurrency} at once: "
        f"accepted {load['accepted_per_s']:.0f}/s, completed {load['completed_per_s']:.0f}/s, "
        f"503 overload answers retried {load['refused_503']}"
    )
    lost = load["submitted"] - load["succeeded"]
    print(
        f"distinct ids {load['distinct_ids']}, succeeded {load['succeeded']}, "
        f"not finished {load['not_finished']}, lost {lost}, "
        f"agent saw {load['agent_saw'] - len(round_trips) - len(async_trips) - 2 * WARM_UP}, "
        f"agent duplicates {load['agent_duplicates']}"
    )


if __name__ == "__main__":
    main()
