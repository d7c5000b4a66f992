"""Snippets kept verbatim: README's TypeScript quick start (type-checked by ``npm run lint``)
and the product brief's examples the SDK tests run as node processes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BRIEF = ROOT.parent / "shared" / "reference" / "product-brief.md"
QUICKSTART = ROOT / "sdk" / "typescript" / "test" / "readme" / "quickstart.ts"
BRIEF_TS = ROOT / "sdk" / "typescript" / "test" / "nodes" / "brief.ts"
BRIEF_PY = ROOT / "tests" / "agentfield_sdk" / "brief_agent.py"


def block(text: str, pattern: str) -> str:
    match = re.search(pattern, text, re.S)
    assert match, f"no block matches {pattern!r}"
    return match.group(1)


def without_header(text: str) -> str:
    """The file without its leading comment lines (what it is, who checks it)."""
    lines = text.splitlines()
    while lines and lines[0].startswith("//"):
        lines.pop(0)
    return "\n".join(lines)


def holds(text: str, snippet: str) -> bool:
    return snippet.strip() in text


def test_the_readme_typescript_quick_start_is_the_type_checked_file():
    readme = block((ROOT / "README.md").read_text(), r"### TypeScript\n.*?```ts\n(.*?)```")
    assert without_header(QUICKSTART.read_text()).strip() == readme.strip()


def brief_text() -> str:
    if not BRIEF.exists():
        pytest.skip(f"the shared folder is absent ({BRIEF} does not exist; CI copies it there)")
    return BRIEF.read_text()


def test_the_typescript_brief_node_holds_the_briefs_typescript_tab_verbatim():
    snippet = block(brief_text(), r"TypeScript:\s*```ts\n(.*?)```")
    assert holds(BRIEF_TS.read_text(), snippet), snippet


def test_the_python_brief_agent_holds_the_briefs_tools_less_example_verbatim():
    section = block(brief_text(), r"### What `tools` means\n(.*?)\n### ")
    snippet = block(section, r"```python\n(.*?)```")
    assert "tools" not in snippet
    assert holds(BRIEF_PY.read_text(), snippet), snippet
