"""scripts/ensure-system-packages: what `make test`, `make run` and CI install by themselves.

apt-get is a stand-in on PATH that records its arguments: no test installs anything.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.worker import ROOT

SCRIPT = ROOT / "scripts" / "ensure-system-packages"


def run(tmp_path: Path, group: str, lines: str, **env: str) -> subprocess.CompletedProcess:
    listing = tmp_path / "packages"
    listing.write_text(lines)
    environment = {**os.environ, "AGENTFIELD_SYSTEM_PACKAGES": str(listing), **env}
    if "AGENTFIELD_NO_APT" not in env:
        environment.pop("AGENTFIELD_NO_APT", None)
    return subprocess.run(
        [str(SCRIPT), group], capture_output=True, text=True, env=environment, timeout=30
    )


MISSING = "# comment\naf-no-such-command  af-test-package  test,run  a test of the script\n"


def test_nothing_is_done_when_every_command_is_there(tmp_path):
    done = run(tmp_path, "test", "sh  some-package  test  the shell\n", AGENTFIELD_NO_APT="1")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_a_user_who_may_not_install_is_told_which_packages_and_how(tmp_path):
    refused = run(tmp_path, "test", MISSING, AGENTFIELD_NO_APT="1")
    assert refused.returncode == 1
    assert "af-test-package: a test of the script" in refused.stderr
    assert "sudo apt-get update && sudo apt-get install -y af-test-package" in refused.stderr
    warned = run(tmp_path, "run", MISSING, AGENTFIELD_NO_APT="1")  # make run goes on
    assert warned.returncode == 0 and "af-test-package" in warned.stderr
    other = run(tmp_path, "ci", MISSING, AGENTFIELD_NO_APT="1")  # not in that group
    assert (other.returncode, other.stderr) == (0, "")


@pytest.mark.skipif(os.geteuid() != 0, reason="the install path runs apt-get as root")
def test_root_installs_what_is_missing_with_apt_get(tmp_path):
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls"
    bin_dir.mkdir()
    fake = bin_dir / "apt-get"
    fake.write_text(f'#!/bin/sh\necho "$DEBIAN_FRONTEND $*" >> {calls}\n')
    fake.chmod(0o755)
    done = run(tmp_path, "test", MISSING, PATH=f"{bin_dir}:{os.environ['PATH']}")
    assert done.returncode == 0, done.stderr
    assert calls.read_text().splitlines() == [
        "noninteractive update -qq",
        "noninteractive install -y -qq af-test-package",
    ]
    fake.write_text("#!/bin/sh\nexit 100\n")  # no registry: the message, as for a user
    failed = run(tmp_path, "test", MISSING, PATH=f"{bin_dir}:{os.environ['PATH']}")
    assert failed.returncode == 1 and "sudo apt-get install -y af-test-package" in failed.stderr


def test_the_list_names_what_the_suite_and_the_stack_need():
    rows = [
        line.split(None, 3)
        for line in (ROOT / "scripts" / "system-packages").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    by_group = {
        group: {package for _, package, groups, _ in rows if group in groups.split(",")}
        for group in ("test", "run")
    }
    assert {"chromium", "espeak-ng", "sox"} <= by_group["test"]
    assert "espeak-ng" in by_group["run"]  # make run speaks with espeak-ng's voice
