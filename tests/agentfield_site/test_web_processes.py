"""``manage.py serve``: several daphne processes behind one address (decision 0028).

Who answered a connection is read from the kernel: each daphne child's socket descriptors
(``/proc/<pid>/fd``) matched against the established connections on the served port
(``/proc/net/tcp``), so nothing here depends on timing.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from django.conf import settings

from agentfield_site.env import EnvError
from agentfield_site.web_processes import (
    MAX_QUICK_FAILURES,
    Launcher,
    LauncherError,
    WebProcess,
    bind_sockets,
    read_web_processes,
    web_process_count,
)
from tests.process_output import ProcessOutput
from tests.servers import free_port
from tests.worker import ROOT, TEST_VAR_DIR, worker_env

needs_redis = pytest.mark.skipif(
    not settings.REDIS_URL, reason="the embedded stack runs one web process"
)
embedded_only = pytest.mark.skipif(
    bool(settings.REDIS_URL), reason="the refusal of the embedded stack"
)
VARIABLE = "AGENTFIELD_WEB_PROCESSES"
ESTABLISHED = "01"


# --- the setting and the sizing -----------------------------------------------------------


@pytest.mark.parametrize("value", [None, "", "  ", "auto", "AUTO"])
def test_unset_blank_or_auto_reads_as_auto(value):
    environ = {} if value is None else {VARIABLE: value}
    assert read_web_processes(environ) == "auto"


def test_a_count_reads_as_an_integer():
    assert read_web_processes({VARIABLE: "3"}) == 3
    assert read_web_processes({VARIABLE: " 1 "}) == 1


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5", "auto4"])
def test_anything_else_names_the_variable(value):
    with pytest.raises(EnvError, match=f"{VARIABLE}=.*auto or an integer >= 1"):
        read_web_processes({VARIABLE: value})


def test_a_bad_value_stops_start_up():
    env = worker_env(AGENTFIELD_WEB_PROCESSES="lots")
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr or "EnvError" in result.stderr
    assert "AGENTFIELD_WEB_PROCESSES='lots' is invalid" in result.stderr


def test_auto_is_the_cpu_count_with_shared_state_and_one_without():
    assert web_process_count("auto", shared_state=True, cpu_count=4) == 4
    assert web_process_count("auto", shared_state=True, cpu_count=None) == (os.cpu_count() or 1)
    assert web_process_count(3, shared_state=True, cpu_count=8) == 3
    assert web_process_count("auto", shared_state=False, cpu_count=8) == 1
    assert web_process_count(1, shared_state=False) == 1


def test_processes_override_the_setting():
    assert web_process_count(4, requested=2, shared_state=True) == 2
    assert web_process_count("auto", requested=1, shared_state=False, cpu_count=8) == 1


@pytest.mark.parametrize(("setting", "requested"), [(2, None), ("auto", 2), (1, 3)])
def test_several_processes_without_redis_are_refused_saying_why(setting, requested):
    with pytest.raises(LauncherError, match="need REDIS_URL: the embedded stack's channel layer"):
        web_process_count(setting, requested=requested, shared_state=False)


def test_the_sockets_are_the_launchers_own():
    for arg in ("-p", "--port=9000", "--fd", "-b", "-u", "--endpoint"):
        with pytest.raises(LauncherError, match="is the launcher's own"):
            Launcher("127.0.0.1", 0, 1, 1024, daphne_args=[arg, "1"])


def test_sockets_share_one_port_and_refuse_a_port_in_use():
    sockets = bind_sockets("127.0.0.1", 0, 3)
    try:
        assert len({sock.getsockname() for sock in sockets}) == 1
        for sock in sockets:
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
        port = sockets[0].getsockname()[1]
        # anything already listening there, even another launcher of ours, is refused
        with pytest.raises(LauncherError, match=f"cannot listen on 127.0.0.1:{port}"):
            bind_sockets("127.0.0.1", port, 2)
    finally:
        for sock in sockets:
            sock.close()


def test_an_ipv6_address_is_refused_saying_why():
    with pytest.raises(LauncherError, match="serve listens on IPv4 only"):
        bind_sockets("::1", 0, 2)


def test_restarts_back_off_and_give_up_on_a_process_that_keeps_dying():
    """The supervision step alone, on a child that exits at once."""
    lines: list[str] = []
    launcher = Launcher("127.0.0.1", 0, 1, 1024, log=lines.append)
    [sock] = bind_sockets("127.0.0.1", 0, 1)
    with sock:
        web = WebProcess(0, sock, [sys.executable, "-c", "raise SystemExit(3)"])
        launcher.processes.append(web)
        for _ in range(MAX_QUICK_FAILURES):
            web.start()
            web.process.wait()
            launcher._supervise()
            assert f"(pid {web.process.pid}) exited with code 3; starting it again" in lines[-1]
            web.restart_at = 0.0  # due: the next step starts it
            launcher._supervise()
            assert lines[-1] == f"web process 0 started again (pid {web.process.pid})"
            web.process.wait()
        said = "\n".join(lines)
        delays = [float(d) for d in re.findall(r"starting it again in ([\d.]+) s", said)]
        assert delays == [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 10.0, 10.0, 10.0]
        with pytest.raises(LauncherError, match=r"11 times in a row .* giving up"):
            launcher._supervise()


# --- the launcher, as real processes ------------------------------------------------------


@dataclass
class Served:
    process: subprocess.Popen
    output: ProcessOutput
    port: int

    def daphnes(self) -> list[int]:
        return children_of(self.process.pid)

    def healthz(self) -> int:
        """One request on a new connection (queued until some daphne accepts it)."""
        return httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=60).status_code


def serve_argv(port: int, *args: str) -> list[str]:
    return [sys.executable, "manage.py", "serve", "--port", str(port), *args]


@contextmanager
def serve(*args: str, **env: str) -> Iterator[Served]:
    """``manage.py serve`` on a free loopback port, until its start line and a first 200."""
    port = free_port()
    environ = worker_env(**env)
    if VARIABLE not in env:
        environ.pop(VARIABLE, None)
    process = subprocess.Popen(
        serve_argv(port, *args),
        cwd=ROOT,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output = ProcessOutput(process, TEST_VAR_DIR / f"serve-{port}.log")
    try:
        output.wait_for(rf"serving http://127\.0\.0\.1:{port} with \d+ daphne process")
        served = Served(process, output, port)
        assert served.healthz() == 200
        yield served
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)  # its children die with it (pdeathsig)
            process.wait()


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return sorted(found)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def accepted_from(pid: int, port: int) -> set[int]:
    """The client ports of the established connections on ``port`` that ``pid`` holds."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    clients = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
            if inode in inodes and state == ESTABLISHED and int(local.split(":")[1], 16) == port:
                clients.add(int(remote.split(":")[1], 16))
    return clients


@contextmanager
def open_connections(port: int, count: int) -> Iterator[set[int]]:
    """``count`` new keep-alive connections, each with one answered request, held open;
    yields their client ports."""
    with ExitStack() as stack:
        ports = set()
        for _ in range(count):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            stack.callback(connection.close)
            connection.request("GET", "/healthz")
            response = connection.getresponse()
            response.read()
            assert response.status == 200
            ports.add(connection.sock.getsockname()[1])
        yield ports


def stopped_cleanly(served: Served, daphnes: list[int]) -> None:
    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(timeout=60) == 0
    served.output.wait_closed()  # every child closed its end of the output: all gone
    assert not [pid for pid in daphnes if alive(pid)]


@needs_redis
@pytest.mark.django_db(transaction=True)
def test_two_daphne_processes_answer_one_address_and_stop_on_sigterm():
    with serve("--processes", "2") as served:
        daphnes = served.daphnes()
        assert len(daphnes) == 2
        # the kernel spreads new connections over the two sockets: 64 of them all landing
        # on one would be a 1 in 2**63 chance
        with open_connections(served.port, 64) as ours:
            answered = {pid: accepted_from(pid, served.port) & ours for pid in daphnes}
        assert all(answered.values()), answered
        assert set().union(*answered.values()) == ours
        stopped_cleanly(served, daphnes)


@needs_redis
@pytest.mark.django_db(transaction=True)
def test_a_daphne_that_dies_is_started_again_on_its_socket():
    with serve("--processes", "2") as served:
        victim, survivor = served.daphnes()
        os.kill(victim, signal.SIGKILL)
        served.output.wait_for(rf"web process \d \(pid {victim}\) exited with code -9")
        # new connections keep being answered: those the kernel queues on the dead one's
        # socket wait there for its successor
        assert [served.healthz() for _ in range(40)] == [200] * 40
        successor = int(served.output.wait_for(r"started again \(pid (\d+)\)").group(1))
        assert served.daphnes() == sorted([survivor, successor])
        with open_connections(served.port, 64) as ours:
            assert accepted_from(successor, served.port) & ours
            assert accepted_from(survivor, served.port) & ours
        stopped_cleanly(served, [survivor, successor])


@embedded_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("args", "env"), [(["--processes", "2"], {}), ([], {VARIABLE: "2"})])
def test_the_embedded_stack_refuses_several_processes(args, env):
    result = subprocess.run(
        serve_argv(free_port(), *args),
        cwd=ROOT,
        env=worker_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "2 web processes need REDIS_URL" in result.stderr
    assert "channel layer and cache live in one process's memory" in result.stderr


@embedded_only
@pytest.mark.django_db(transaction=True)
def test_the_embedded_stack_runs_one_process_on_auto():
    with serve() as served:
        daphnes = served.daphnes()
        assert len(daphnes) == 1
        assert "with 1 daphne process " in served.output.text()
        stopped_cleanly(served, daphnes)
