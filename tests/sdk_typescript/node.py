"""Node.js for the tests: building ``sdk/typescript`` and running its tests and node scripts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from devtools.processes import stop_process_groups
from tests.worker import ROOT, TEST_VAR_DIR

SDK = ROOT / "sdk" / "typescript"
BUILT = SDK / "dist-test" / "test"
EXAMPLE = ROOT / "examples" / "voice_support_ts"
PYTHON_NODES = Path(__file__).with_name("python_nodes.py")


def _run(argv: list[str], cwd: Path = SDK, timeout: float = 300) -> None:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{done.stdout}\n{done.stderr}")


def build_typescript_sdk() -> Path:
    """``npm ci`` when node_modules is missing or older than the lock file, then build the
    package and its tests (``make sdk-ts`` builds the package), and the TypeScript example."""
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise RuntimeError("the TypeScript SDK tests need Node.js 20 or newer and npm on PATH")
    _npm_ci(npm, SDK)
    _run([npm, "run", "--silent", "build"])
    _run([npm, "run", "--silent", "build:test"])
    _npm_ci(npm, EXAMPLE)
    _run([npm, "run", "--silent", "build"], cwd=EXAMPLE)
    return BUILT


def _npm_ci(npm: str, package: Path) -> None:
    installed = package / "node_modules" / ".package-lock.json"
    lock = package / "package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        _run([npm, "ci", "--no-audit", "--no-fund"], cwd=package)


def node_env(**extra: str) -> dict[str, str]:
    """The environment of a node process: nothing of the control plane's own settings."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AGENTFIELD_", "DJANGO_", "DATABASE_URL", "REDIS_URL"))
    }
    env.update(PYTHONUNBUFFERED="1", **extra)
    return env


def node_test(*files: str, timeout: float = 180, **env: str) -> subprocess.CompletedProcess:
    """``node --test`` over built test files (relative to dist-test/test)."""
    return subprocess.run(
        ["node", "--test", "--test-reporter=tap", *(str(BUILT / f) for f in files)],
        cwd=SDK,
        env=node_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@dataclass
class NodeProcess:
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text()

    def wait_for(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{self.log_path.name} never logged {text!r}:\n{self.log()}")
            time.sleep(0.05)

    def terminate(self, timeout: float = 15) -> int:
        """SIGTERM, as a supervisor would; the exit code."""
        self.process.terminate()
        return self.process.wait(timeout=timeout)


@contextmanager
def agent_process(argv: list[str], name: str, **env: str) -> Iterator[NodeProcess]:
    """A node (``node <script>`` or a Python SDK script) as a real process; stopped after."""
    log_path = TEST_VAR_DIR / f"{name}.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        argv,
        cwd=TEST_VAR_DIR,
        env=node_env(**env),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield NodeProcess(process, log_path)
    finally:
        stop_process_groups([process], grace=10)
        log.close()


def typescript_node(script: str, name: str, **env: str):
    return agent_process(["node", str(BUILT / "nodes" / script)], name, **env)


def typescript_example(name: str, **env: str):
    return agent_process(["node", str(EXAMPLE / "dist" / "agent.js")], name, **env)


def python_node(which: str, name: str, **env: str):
    return agent_process([sys.executable, str(PYTHON_NODES), which], name, **env)
