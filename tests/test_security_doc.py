"""SECURITY.md names the tests that prove its promises: every one it names must exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_test_security_md_names_exists():
    text = (ROOT / "SECURITY.md").read_text()
    references = re.findall(r"`(tests/[\w/]+\.py)(?:::(\w+))?`", text)
    last_file = None
    missing = []
    for path, name in references:
        last_file = path
        source = ROOT / path
        if not source.exists():
            missing.append(path)
        elif name and not re.search(rf"^(async )?def {name}\(", source.read_text(), re.M):
            missing.append(f"{path}::{name}")
    # `::name` right after a file reference in the same cell belongs to that file
    for name in re.findall(r"`::(\w+)`", text):
        if not any(
            re.search(rf"^(async )?def {name}\(", (ROOT / p).read_text(), re.M)
            for p, _ in references
            if (ROOT / p).exists()
        ):
            missing.append(f"::{name}")
    assert last_file is not None
    assert not missing, f"SECURITY.md names tests that do not exist: {missing}"
