"""A newcomer's first minutes, in real Chromium against ``make run`` itself: the overview
leads to the product login, the demo caller printed in the banner signs in, and a spoken
call (an espeak-ng WAV as the microphone, heard by the simulator's recognizer) is answered
about the order it names; a second call on the same page starts clean. Screenshots go to
test-artifacts/newcomer-*.png."""

from __future__ import annotations

import signal

import httpx
import pytest

from tests.agentfield_sdk.run_stack_process import run_stack
from tests.browser import ARTIFACTS, chromium_page, csp_violations
from tests.servers import free_port
from tests.sessions_app.voice_page import MEDIA_ARGS, VOICE_PROBE, assert_clean, speech_wav

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VOICE_PAGE = "/sessions/voice-support-af.voice/"
ORDER_1042 = "Order 1042, noise-cancelling headphones"
# what the caller says (the words); the voice the simulator's recognizer hears
# best (decision 0033)
SAID, VOICE = "where is my order 1042", "en-us+m3"


def approve_the_demo(base_url: str, admin_key: str, output) -> None:
    """What the admin does on first run (the approvals page has its own tests)."""
    output.wait_for("voice-support-af is waiting for tag approval", timeout=120)
    output.wait_for("support is waiting for tag approval", timeout=60)
    with httpx.Client(base_url=base_url, headers={"X-API-Key": admin_key}, timeout=30) as api:
        for node in ("voice-support-af", "support"):
            tags = api.get(f"/api/v1/nodes/{node}").json()["pending_tags"]
            approved = api.post(
                f"/api/v1/admin/agents/{node}/approve-tags", json={"approved_tags": tags}
            )
            assert approved.status_code == 200, approved.text
    output.wait_for("voice-support-af is ready", timeout=60)
    output.wait_for("support is ready", timeout=60)


def spoken_call(page) -> str:
    """Start a call, hear the caller's words and the answer; the caller's line."""
    page.wait_for_selector("#start:enabled", timeout=15_000)  # the access check said yes
    page.click("#start")
    caller = page.locator("#transcript li.user").first
    caller.wait_for(timeout=45_000)
    page.locator("#transcript li.assistant", has_text=ORDER_1042).first.wait_for(timeout=45_000)
    page.wait_for_selector("#tools li[data-execution] .state.status-succeeded", timeout=30_000)
    return caller.inner_text()


def test_a_newcomer_signs_in_as_the_demo_caller_and_is_understood():
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    # the words after 6 s (the call connects meanwhile), then a long silence: one turn
    microphone = speech_wav(SAID, silence_s=40, lead_s=6, voice=VOICE)
    ARTIFACTS.mkdir(exist_ok=True)
    with run_stack(port) as (process, output):
        admin_key = output.wait_for(r"Admin API key\s+(\S+)", timeout=120).group(1)
        password = output.wait_for(r"Caller login\s+caller / (\S+)").group(1)
        approve_the_demo(base_url, admin_key, output)

        args = [*MEDIA_ARGS, f"--use-file-for-fake-audio-capture={microphone}"]
        with chromium_page(args) as page:
            violations = csp_violations(page)
            page.add_init_script(path=str(VOICE_PROBE))
            page.goto(f"{base_url}/")
            assert "Provider simulator" in page.inner_text("body")  # who answers, plainly
            page.screenshot(path=str(ARTIFACTS / "newcomer-overview.png"), full_page=True)
            page.click("[data-step=sign-in] a")  # the overview's first step
            page.fill("#password-login input[name=username]", "caller")
            page.fill("#password-login input[name=password]", password)
            page.screenshot(path=str(ARTIFACTS / "newcomer-login.png"), full_page=True)
            page.click("#password-login button[type=submit]")
            page.wait_for_selector(f"a[href='{VOICE_PAGE}']", timeout=15_000)
            nav = page.inner_text("header nav")
            assert "caller" in nav and "Approvals" not in nav and "Admin" not in nav
            page.screenshot(path=str(ARTIFACTS / "newcomer-signed-in.png"), full_page=True)
            page.click(f"main a[href='{VOICE_PAGE}']")  # "make a call"

            first = spoken_call(page)
            assert "order" in first.lower() and "milliseconds" not in first, first
            page.screenshot(path=str(ARTIFACTS / "newcomer-call.png"), full_page=True)
            first_session = page.inner_text("#session-id")
            page.click("#end")
            page.wait_for_selector("#status[data-state=ended]", timeout=15_000)

            page.click("#start")  # "Start a new call"
            page.wait_for_selector("#status[data-state=listening]", timeout=20_000)
            assert page.inner_text("#session-id") not in ("", first_session)
            assert_clean(page)
            page.click("#end")
            page.wait_for_selector("#status[data-state=ended]", timeout=15_000)
            page.screenshot(path=str(ARTIFACTS / "newcomer-second-call.png"), full_page=True)
            assert violations == []

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=40) == 0
