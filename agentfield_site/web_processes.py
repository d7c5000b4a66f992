"""Several daphne processes behind one address (``manage.py serve``; decision 0028).

The parent binds one listening socket per process on the same host and port with
``SO_REUSEPORT`` (the kernel spreads new connections across them), starts one daphne per
socket (``--fd``) and keeps the sockets open: a child that dies is started again on its
socket, and the connections queued there meanwhile are answered by its successor.

Also the process helpers the dev tools and the tests share (``daphne_argv``,
``stop_process_groups``, ``die_with_parent``): production code must not import devtools.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from agentfield_site.env import EnvError

WEB_PROCESSES_VARIABLE = "AGENTFIELD_WEB_PROCESSES"
APPLICATION = "agentfield_site.asgi:application"
# Connections waiting to be accepted, per socket (Twisted's own default, 50, resets bursts);
# the kernel caps it at net.core.somaxconn.
BACKLOG = 4096
# daphne closes a connection (1009) on a message over its own cap; ours is lower, so a
# message a little too large gets an ``error`` event from the consumer instead.
DAPHNE_WS_HEADROOM = 4
# Restarts: the first at once, then doubling up to the cap; a process that served this long
# counts as healthy again. After this many quick deaths in a row the launcher gives up.
RESTART_DELAY_FIRST = 0.1
RESTART_DELAY_MAX = 10.0
HEALTHY_AFTER_SECONDS = 30.0
MAX_QUICK_FAILURES = 10
STOP_GRACE_SECONDS = 10.0
# daphne options the launcher sets itself: the sockets and the WebSocket caps are its own.
OWN_DAPHNE_OPTIONS = frozenset(
    {"-b", "--bind", "-p", "--port", "-u", "--unix-socket", "--fd", "-e", "--endpoint"}
)


class LauncherError(Exception):
    """The launcher cannot run as asked (the message says why)."""


# --- sizing -------------------------------------------------------------------------------


def read_web_processes(environ: Mapping[str, str] | None = None) -> int | Literal["auto"]:
    """``AGENTFIELD_WEB_PROCESSES``: ``auto`` (unset or blank too) or an integer >= 1."""
    value = (os.environ if environ is None else environ).get(WEB_PROCESSES_VARIABLE, "")
    value = value.strip()
    if value == "" or value.lower() == "auto":
        return "auto"
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise EnvError(WEB_PROCESSES_VARIABLE, "auto or an integer >= 1", value)
    return number


def web_process_count(
    setting: int | Literal["auto"],
    *,
    requested: int | None = None,
    shared_state: bool,
    cpu_count: int | None = None,
) -> int:
    """How many daphne processes to run: ``requested`` (``--processes``) over the setting;
    ``auto`` is the CPU count. Without shared state (the embedded stack: in-memory channel
    layer and locmem cache, both per process) only one process is correct."""
    wanted = setting if requested is None else requested
    if isinstance(wanted, int) and wanted < 1:
        raise LauncherError(f"the number of web processes must be >= 1, not {wanted}")
    if not shared_state:
        if wanted not in ("auto", 1):
            raise LauncherError(
                f"{wanted} web processes need REDIS_URL: the embedded stack's channel layer "
                "and cache live in one process's memory, so a call, its agent link and its "
                "rate limits would not meet across processes. Set REDIS_URL (and "
                f"DATABASE_URL) or run one process ({WEB_PROCESSES_VARIABLE}=auto or 1)."
            )
        return 1
    if wanted == "auto":
        return max(1, cpu_count if cpu_count is not None else (os.cpu_count() or 1))
    return wanted


# --- processes ----------------------------------------------------------------------------


def daphne_argv(*bind: str, ws_message_bytes: int) -> list[str]:
    """``python -m daphne`` with ``bind`` (e.g. ``-b HOST -p PORT``), WebSocket caps set."""
    cap = str(ws_message_bytes * DAPHNE_WS_HEADROOM)
    return [
        sys.executable,
        "-m",
        "daphne",
        "--websocket-max-message-size",
        cap,
        "--websocket-max-frame-size",
        cap,
        *bind,
    ]


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None]:
    """A ``preexec_fn``: the kernel sends the child ``sig`` when its parent dies (also if it
    died between the fork and this call)."""
    parent = os.getpid()

    def arm() -> None:
        import ctypes

        pr_set_pdeathsig = 1
        with contextlib.suppress(OSError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, sig)
        if os.getppid() != parent:
            os._exit(1)

    return arm


def stop_process_groups(
    processes: Iterable[subprocess.Popen], grace: float = STOP_GRACE_SECONDS
) -> None:
    """SIGTERM each group leader (daphne and Celery stop their own children in order), wait
    up to ``grace`` seconds in all, then SIGKILL every whole group so nothing is left."""
    processes = list(processes)
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


# --- sockets ------------------------------------------------------------------------------


def bind_sockets(host: str, port: int, count: int, backlog: int = BACKLOG) -> list[socket.socket]:
    """``count`` listening sockets on one address, in one ``SO_REUSEPORT`` group.

    The address is first bound without ``SO_REUSEPORT``: that fails if anything already
    listens there (another launcher of the same user would otherwise silently share the
    port), and gives the port when ``port`` is 0."""
    if ":" in host:
        # daphne's --fd adopts a socket as AF_INET: an IPv6 one would serve, but with every
        # client address garbled (the login throttle counts per address)
        raise LauncherError(
            f"cannot bind {host!r}: serve listens on IPv4 only (daphne's --fd takes a passed "
            "socket as IPv4); bind 0.0.0.0 or an IPv4 address, with IPv6 ended at the proxy"
        )
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host or "0.0.0.0", port, socket.AF_INET, socket.SOCK_STREAM, 0, socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise LauncherError(f"cannot bind {host!r}: {exc}") from None
    sockets: list[socket.socket] = []
    try:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
            address = (address[0], probe.getsockname()[1], *address[2:])
        for _ in range(count):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind(address)
            sock.listen(backlog)
    except OSError as exc:
        for sock in sockets:
            sock.close()
        raise LauncherError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sockets


# --- the supervisor -----------------------------------------------------------------------


@dataclass
class WebProcess:
    """One daphne child and the socket it serves; the socket outlives the child."""

    index: int
    sock: socket.socket
    argv: list[str]
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    quick_failures: int = 0
    restart_at: float | None = None  # set while it waits to be started again

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.argv,
            pass_fds=(self.sock.fileno(),),
            start_new_session=True,
            # an orderly stop goes through SIGTERM first; a parent gone without one leaves
            # no daphne behind to serve sockets nobody supervises
            preexec_fn=die_with_parent(signal.SIGKILL),
        )
        self.started_at = time.monotonic()
        self.restart_at = None


@dataclass
class Launcher:
    """Runs ``count`` daphne processes on ``host:port`` until SIGTERM or SIGINT."""

    host: str
    port: int
    count: int
    ws_message_bytes: int
    application: str = APPLICATION
    daphne_args: Sequence[str] = ()
    grace: float = STOP_GRACE_SECONDS
    log: Callable[[str], None] = field(default=lambda line: print(line, file=sys.stderr))
    processes: list[WebProcess] = field(default_factory=list)
    _stopping: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        for arg in self.daphne_args:
            if arg.split("=", 1)[0] in OWN_DAPHNE_OPTIONS:
                raise LauncherError(f"daphne's {arg.split('=', 1)[0]} is the launcher's own")

    def run(self) -> None:
        """Bind, start every child, supervise; returns after an orderly stop. Raises
        ``LauncherError`` when a child keeps dying at start-up."""
        sockets = bind_sockets(self.host, self.port, self.count)
        self.port = sockets[0].getsockname()[1]
        wake_read, wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        previous = self._install_signals(wake_write)
        try:
            for index, sock in enumerate(sockets):
                argv = daphne_argv(
                    "--fd", str(sock.fileno()), ws_message_bytes=self.ws_message_bytes
                )
                self.processes.append(
                    WebProcess(index, sock, [*argv, *self.daphne_args, self.application])
                )
            for web in self.processes:
                web.start()
            self.log(
                f"serving http://{self.host or '0.0.0.0'}:{self.port} with {self.count} daphne "
                f"process{'es' * (self.count != 1)} "
                f"(pids {', '.join(str(w.process.pid) for w in self.processes)})"
            )
            while not self._stopping:
                self._wait(wake_read)
                if not self._stopping:
                    self._supervise()
        finally:
            self._stop()
            for sock in sockets:
                sock.close()
            signal.set_wakeup_fd(-1)
            for signum, handler in previous.items():
                if handler is not None:
                    signal.signal(signum, handler)
            os.close(wake_read)
            os.close(wake_write)

    def _install_signals(self, wake_write: int) -> dict[int, object]:
        def stop(signum, frame):
            self._stopping = True

        previous = {
            signal.SIGTERM: signal.signal(signal.SIGTERM, stop),
            signal.SIGINT: signal.signal(signal.SIGINT, stop),
            # a handler (not SIG_IGN, which would reap children for us) so that a child's
            # exit wakes the loop through the wakeup fd
            signal.SIGCHLD: signal.signal(signal.SIGCHLD, lambda signum, frame: None),
        }
        signal.set_wakeup_fd(wake_write, warn_on_full_buffer=False)
        return previous

    def _wait(self, wake_read: int) -> None:
        """Until a signal arrives or the next restart is due."""
        due = [w.restart_at for w in self.processes if w.restart_at is not None]
        timeout = max(0.0, min(due) - time.monotonic()) if due else 5.0
        readable, _, _ = select.select([wake_read], [], [], timeout)
        if readable:
            with contextlib.suppress(BlockingIOError):
                while os.read(wake_read, 512):
                    pass

    def _supervise(self) -> None:
        now = time.monotonic()
        for web in self.processes:
            if web.restart_at is not None:
                if now >= web.restart_at:
                    web.start()
                    self.log(f"web process {web.index} started again (pid {web.process.pid})")
                continue
            code = web.process.poll()
            if code is None:
                continue
            if now - web.started_at >= HEALTHY_AFTER_SECONDS:
                web.quick_failures = 0
            if web.quick_failures >= MAX_QUICK_FAILURES:
                raise LauncherError(
                    f"web process {web.index} exited with code {code}, {MAX_QUICK_FAILURES + 1} "
                    f"times in a row within {HEALTHY_AFTER_SECONDS:.0f} s of its start; "
                    "giving up"
                )
            delay = min(RESTART_DELAY_MAX, RESTART_DELAY_FIRST * 2**web.quick_failures)
            web.quick_failures += 1
            web.restart_at = now + delay
            self.log(
                f"web process {web.index} (pid {web.process.pid}) exited with code {code}; "
                f"starting it again in {delay:.1f} s"
            )

    def _stop(self) -> None:
        # one that waits for its restart has been reaped: its pid may be another's now
        running = [w.process for w in self.processes if w.process and w.restart_at is None]
        stop_process_groups(running, grace=self.grace)
