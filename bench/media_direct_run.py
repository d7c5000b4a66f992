"""The run of ``bench/media.py --media direct`` (what it measures: ``bench/media_direct.py``).

One simulator (replies in real time; a caller that never connects keeps its call for an
hour), one stack (``--processes`` daphnes, a Celery worker of 4 processes), one agent node.
"""

from __future__ import annotations

import asyncio
import os
import time

from bench import media
from bench.media_direct import HELD_HEADER, Held, held_row, hold, media_opener, prepare_direct
from bench.stack import PYTHON, free_port, running_stack


def ratio_row(calls: int, relay: media.Figures, direct: media.Figures, idle: float) -> str:
    """``idle``: the daphnes' CPU seconds per minute with no call, taken out for the net."""
    ratio = relay.cpu_per_call_minute / max(direct.cpu_per_call_minute, 1e-9)
    net_relay = relay.cpu_per_call_minute - idle / calls
    net_direct = direct.cpu_per_call_minute - idle / calls
    return (
        f"{calls:>5} | {relay.cpu_per_call_minute:8.3f} | {direct.cpu_per_call_minute:8.3f} |"
        f" {ratio:6.1f} | {net_relay:8.3f} | {net_direct:8.3f} |"
        f" {net_relay / max(net_direct, 1e-9):6.1f} |"
        f" {relay.machine_busy:4.0%} / {direct.machine_busy:4.0%}"
    )


RATIO_HEADER = (
    "calls | relay CPU s per call-minute | direct | relay / direct | net of idle: relay |"
    " direct | relay / direct | machine busy relay / direct"
)


def idle_rate(pids: list[int], window: float) -> float:
    """CPU seconds per minute the daphne processes spend holding no call."""
    began, before = time.monotonic(), media.cpu_seconds(pids)
    time.sleep(window)
    return (media.cpu_seconds(pids) - before) / ((time.monotonic() - began) / 60)


def numbers(text: str) -> list[int]:
    return [int(item) for item in text.split(",") if item.strip()]


def run_direct(args) -> None:
    levels = numbers("1,10" if args.levels is None else args.levels)
    hold_levels = numbers(args.hold_levels)
    sim_port = free_port()
    simulator_base = f"http://127.0.0.1:{sim_port}"
    argv = [PYTHON, "manage.py", "provider_simulator", "--port", str(sim_port), "--pace", "1.0"]
    argv += ["--call-connect-timeout", "3600"]
    simulator = media.start_process(argv, f"{simulator_base}/control/log")
    compared: list[tuple[int, media.Figures, media.Figures]] = []
    held: list[Held] = []
    idle = float("nan")
    try:
        os.environ.update(
            OPENAI_API_KEY="sk-bench",
            OPENAI_BASE_URL=f"{simulator_base}/v1",
            AGENTFIELD_WEBRTC_ICE_HOSTS="127.0.0.1",
        )
        with running_stack(
            args.stack,
            port=free_port(),
            workers=1,
            worker_concurrency=4,
            daphnes=args.processes,
            app="bench.media_app:application",
        ) as stack:
            agent = prepare_direct(stack, media.RELAY_SESSION, free_port())
            try:
                pids = [p.pid for p in stack.daphne_processes]
                if levels:
                    idle = idle_rate(pids, args.window)
                    print(f"idle daphnes: {idle:.3f} CPU s per minute", flush=True)
                for calls in levels:
                    media.script_simulator(simulator_base)
                    relay = asyncio.run(
                        media.measure(
                            calls,
                            media.relay_opener(stack.caller_key),
                            stack.base_urls,
                            "/__bench__/delays",
                            pids,
                            args.window,
                        )
                    )
                    media.script_simulator(simulator_base)
                    opener = media_opener(stack.caller_key, media.caller)
                    direct = asyncio.run(
                        media.measure(calls, opener, stack.base_urls, None, pids, args.window)
                    )
                    compared.append((calls, relay, direct))
                    print(ratio_row(calls, relay, direct, idle), flush=True)
                workers = [p.pid for p in stack.processes if p not in stack.daphne_processes]
                one = {"daphne": pids[0], "simulator": simulator.pid, "workers": workers}
                for calls in hold_levels:
                    level = asyncio.run(
                        hold(stack, simulator_base, calls, args.hold_window, args.turn_every, one)
                    )
                    held.append(level)
                    print(held_row(level), flush=True)
            finally:
                agent.terminate()
                agent.wait()
    finally:
        media.stop([simulator])
    print(
        f"\nstack: {args.stack}; {args.processes} daphne processes; {os.cpu_count()} CPUs;"
        f" {args.window:g} s measured per level; the simulator (the provider) on the same"
        " machine"
    )
    if compared:
        print(f"idle daphnes (no call): {idle:.3f} CPU s per minute")
        print(RATIO_HEADER)
    for calls, relay, direct in compared:
        print(ratio_row(calls, relay, direct, idle))
    if not held:
        return
    print(
        f"\ndirect calls held by ONE daphne process, callers without media, a turn naming the"
        f" tool every {args.turn_every:g} s per call for {args.hold_window:g} s"
    )
    print(HELD_HEADER)
    for level in held:
        print(held_row(level))
    passing = [level.calls for level in held if level.passed]
    print(f"largest passing level: {max(passing) if passing else 'none'}")
