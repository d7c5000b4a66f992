"""Headless Debian Chromium for browser tests, driven by Playwright (no browser download)."""

from __future__ import annotations

import os
import shutil
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
# No traffic leaves loopback: background services, sync, QUIC and updates are off.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--disable-features=MediaRouter,OptimizationHints,Translate",
    "--metrics-recording-only",
]
# The policy the page was served with, read back by a same-origin request.
CSP_OF_THE_PAGE = "fetch(location.href).then(r => r.headers.get('content-security-policy') || '')"


def require_chromium() -> None:
    if shutil.which(CHROMIUM):
        return
    if os.environ.get("CI"):
        pytest.fail(
            f"{CHROMIUM} is missing; make test installs it (scripts/ensure-system-packages)"
        )
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")


@contextmanager
def chromium_page(extra_args: list[str] | None = None):
    """A fresh browser context and page; closed afterwards whatever happens."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS + (extra_args or [])
        )
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            yield context.new_page()
        finally:
            browser.close()


def wait_until(page, predicate: str, timeout: float) -> None:
    """Poll ``predicate`` from outside the page: Playwright's ``wait_for_function`` evals
    its predicate inside the page, which the Content-Security-Policy forbids."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(predicate):
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout}s: {predicate}")
        page.wait_for_timeout(100)


def csp_violations(page) -> list[str]:
    """Console reports of anything the Content-Security-Policy blocked, as they come."""
    seen: list[str] = []
    page.on(
        "console",
        lambda message: (
            seen.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return seen
