"""The voice page in a real browser: headless Chromium with a spoken WAV file as its
microphone calls the control plane's own WebRTC peer, against the provider simulator, a
real Celery worker and a real agent node. Screenshots go to test-artifacts/."""

from __future__ import annotations

import shutil
import subprocess
import threading
import wave
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client

from access_app.models import AccessPolicy, CallerProfile
from executions_app.models import Execution
from sessions_app.models import SessionInstance
from tests.agentfield_sdk.example_process import example_agent
from tests.browser import ARTIFACTS, CSP_OF_THE_PAGE, chromium_page, csp_violations, wait_until
from tests.servers import daphne_server
from tests.sessions_app.helpers import TOOL_NODE, VOICE_NODE
from tests.worker import TEST_VAR_DIR

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ORDER_1042 = (
    "Order 1042, noise-cancelling headphones, shipped with UPS and should arrive on Friday."
)
# Chromium plays the file as its microphone, over and over; the call must stay on loopback.
MEDIA_ARGS = [
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--autoplay-policy=no-user-gesture-required",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]
# Test only, run before the page's own script: the level of the audio the page receives.
VOICE_PROBE = Path(__file__).with_name("voice_probe.js")


def speech_wav(text: str) -> Path:
    """``text`` spoken by espeak-ng, then two seconds of silence so the turn ends."""
    if not shutil.which("espeak-ng"):
        pytest.fail("espeak-ng is missing; make test installs it (scripts/ensure-system-packages)")
    spoken = TEST_VAR_DIR / "spoken.wav"
    subprocess.run(["espeak-ng", "-w", str(spoken), text], check=True)
    path = TEST_VAR_DIR / "microphone.wav"
    with wave.open(str(spoken)) as source, wave.open(str(path), "wb") as out:
        out.setparams(source.getparams())
        out.writeframes(source.readframes(source.getnframes()))
        out.writeframes(b"\0\0" * source.getframerate() * 2)
    return path


def login_cookie(base_url: str, username: str, tags: list[str]) -> dict:
    """A Django login session made in the test database, as a browser cookie (made before
    Playwright runs its event loop in this thread, where the ORM may not be used)."""
    user = get_user_model().objects.create_user(username, password="pw-12345678")
    CallerProfile.objects.create(user=user, tags=tags)
    client = Client()
    client.force_login(user)
    return {"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base_url}


@pytest.fixture
def voice_world(admin, make_caller, simulator):
    """A daphne process on loopback and the voice support example as a real process: its
    session handler calls ``support.resolve_voice_turn`` and says the answer."""
    voice_key = make_caller("agent", node_id=VOICE_NODE, name="voice node").secret
    support_key = make_caller("agent", node_id=TOOL_NODE, name="support node").secret
    AccessPolicy.objects.create(
        name="team-a-starts-voice", caller_tags=["team:a"], target_tags=["support:voice"],
        action="allow",
    )  # fmt: skip
    AccessPolicy.objects.create(
        name="voice-calls-support", caller_tags=["support:voice"], target_tags=["support"],
        action="allow",
    )  # fmt: skip
    env = {
        "OPENAI_API_KEY": "sk-simulator",
        "OPENAI_BASE_URL": simulator.base_url,
        "AGENTFIELD_WEBRTC_ICE_HOSTS": "127.0.0.1",
        "AGENTFIELD_TAG_APPROVAL": "auto",
    }
    with (
        daphne_server("voice-browser", **env) as server,
        example_agent(server.base_url, voice_key, support_key, name="example-browser") as agent,
    ):
        agent.wait_for(f"{VOICE_NODE} is ready")
        agent.wait_for(f"{TOOL_NODE} is ready")
        yield server


@pytest.mark.usefixtures("worker")
def test_a_spoken_call_in_chromium_runs_the_example_and_plays_its_answer(voice_world, simulator):
    server = voice_world
    microphone = speech_wav("Hello, where is my order 1042?")
    # the file plays over and over: its second playing is the caller's second turn
    simulator.script_transcripts(["Hello, where is my order 1042?", "Thanks, goodbye."])
    ARTIFACTS.mkdir(exist_ok=True)
    cookie = login_cookie(server.base_url, "carol", ["team:a"])
    with chromium_page([*MEDIA_ARGS, f"--use-file-for-fake-audio-capture={microphone}"]) as page:
        violations = csp_violations(page)
        page.add_init_script(path=str(VOICE_PROBE))
        page.context.add_cookies([cookie])
        page.goto(f"{server.base_url}/sessions/{VOICE_NODE}.voice/")
        assert "script-src 'self'" in page.evaluate(CSP_OF_THE_PAGE)
        page.screenshot(path=str(ARTIFACTS / "voice-call-ready.png"), full_page=True)
        page.click("#start")
        page.wait_for_selector("#status[data-state=listening]", timeout=20_000)
        page.wait_for_selector("#transcript li.user", timeout=20_000)
        page.screenshot(path=str(ARTIFACTS / "voice-call-listening.png"), full_page=True)
        page.wait_for_selector("#tools li[data-execution] .state.status-succeeded", timeout=30_000)
        page.locator("#transcript li.assistant", has_text=ORDER_1042).first.wait_for(timeout=30_000)
        wait_until(page, "() => window.voiceProbe.maxRms > 0.01", timeout=20)
        page.screenshot(path=str(ARTIFACTS / "voice-call-answered.png"), full_page=True)
        assert "where is my order 1042" in page.inner_text("#transcript")
        session_id = page.inner_text("#session-id")
        # the handler answers each turn (returning does not hang up) and ends on goodbye
        page.wait_for_selector("#status[data-state=ended]", timeout=30_000)
        assert "Thanks for calling. Goodbye!" in page.inner_text("#transcript")
        page.screenshot(path=str(ARTIFACTS / "voice-call-ended.png"), full_page=True)
        assert violations == []  # the whole call ran under the Content-Security-Policy

    session = SessionInstance.objects.get(session_id=session_id)
    assert (session.status, session.end_reason) == ("ended", "the caller said goodbye")
    user_turns = session.events.filter(type="turn.user")
    assert user_turns.count() == 2
    assert user_turns.exists() and user_turns.first().data["audio_ms"] > 0  # heard as speech
    assert session.audio_in_ms > 0 and session.audio_out_ms > 0
    execution = Execution.objects.filter(target_name="support.resolve_voice_turn").earliest(
        "created_at"
    )
    assert execution.session_id == session_id and execution.status == "succeeded"
    assert execution.result["spoken_response"] == ORDER_1042


def _in_a_thread(work) -> None:
    """ORM work while Playwright's event loop runs in this thread."""
    thread = threading.Thread(target=lambda: (work(), connection.close()))
    thread.start()
    thread.join(30)


def test_a_caller_whose_access_ends_after_the_page_loaded_sees_access_denied(voice_world):
    """The page of a target the caller may not start is a 404; one whose access ends while
    it is open says so when the call is refused."""
    server = voice_world
    microphone = speech_wav("Hello.")
    cookie = login_cookie(server.base_url, "dave", ["team:a"])
    with chromium_page([*MEDIA_ARGS, f"--use-file-for-fake-audio-capture={microphone}"]) as page:
        page.context.add_cookies([cookie])
        assert page.goto(f"{server.base_url}/sessions/{VOICE_NODE}.voice/").status == 200
        _in_a_thread(
            lambda: CallerProfile.objects.filter(user__username="dave").update(tags=["team:z"])
        )
        page.click("#start")
        page.wait_for_selector("#error:not([hidden])", timeout=15_000)
        assert page.inner_text("#error").startswith("Access denied")
        assert page.get_attribute("#status", "data-state") == "failed"
        page.screenshot(path=str(ARTIFACTS / "voice-call-denied.png"), full_page=True)
        assert page.goto(f"{server.base_url}/sessions/{VOICE_NODE}.voice/").status == 404
    assert not SessionInstance.objects.exists()
