"""Closed-loop HTTP load for ``bench/serving.py``: N connections, each sending its next
request when its last response has been read, spread over a few client processes.

aiohttp's client, one session per process, keep-alive. Each response's latency is taken
from just before its request is sent to its last byte read; a request counts if it was
sent within the run's seconds. (``wrk`` was tried first: against daphne it reported a tail
of 50-250 ms latencies at one connection that no other client saw, a raw socket included.)
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import random
import time
from dataclasses import dataclass, field

import aiohttp


@dataclass
class Load:
    url: str
    method: str = "GET"
    body: bytes | None = None
    keys: list[str] = field(default_factory=list)  # caller keys, rotated per request
    connections: int = 1
    seconds: float = 5.0


@dataclass
class Outcome:
    latencies_ms: list[float]
    errors: int
    seconds: float
    server_ms: list[float]  # each response's ``Server-Timing: app;dur=``, where it had one


async def _drive(load: Load, connections: int) -> Outcome:
    latencies: list[float] = []
    server: list[float] = []
    errors = 0
    keys = itertools.cycle(random.sample(load.keys, len(load.keys))) if load.keys else None
    headers = {"Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        began = time.perf_counter()
        deadline = began + load.seconds

        async def connection() -> None:
            nonlocal errors
            while (sent := time.perf_counter()) < deadline:
                if keys is not None:
                    headers["X-API-Key"] = next(keys)
                try:
                    async with session.request(
                        load.method, load.url, data=load.body, headers=dict(headers)
                    ) as response:
                        await response.read()
                        ok = response.status < 400
                        timing = response.headers.get("Server-Timing", "")
                        if timing.startswith("app;dur="):
                            server.append(float(timing[len("app;dur=") :]))
                except (aiohttp.ClientError, TimeoutError):
                    ok = False
                latencies.append((time.perf_counter() - sent) * 1000)
                errors += not ok

        await asyncio.gather(*(connection() for _ in range(connections)))
    return Outcome(latencies, errors, load.seconds, server)


def _process(load: Load, connections: int, results) -> None:
    results.put(asyncio.run(_drive(load, connections)))


def run(load: Load, processes: int = 2) -> Outcome:
    """Drive ``load`` from ``processes`` client processes (fewer if there are fewer
    connections), and merge what they saw."""
    processes = max(1, min(processes, load.connections))
    shares = [load.connections // processes] * processes
    for index in range(load.connections % processes):
        shares[index] += 1
    if processes == 1:
        return asyncio.run(_drive(load, shares[0]))
    results = multiprocessing.get_context("fork").Queue()
    workers = [
        multiprocessing.get_context("fork").Process(target=_process, args=(load, share, results))
        for share in shares
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get() for _ in workers]
    for worker in workers:
        worker.join()
    return Outcome(
        [latency for outcome in outcomes for latency in outcome.latencies_ms],
        sum(outcome.errors for outcome in outcomes),
        load.seconds,
        [ms for outcome in outcomes for ms in outcome.server_ms],
    )
