"""The voice page in a real browser: headless Chromium with a spoken WAV file as its
microphone calls the control plane's own WebRTC peer, against the provider simulator, a
real Celery worker and a real agent node. Screenshots go to test-artifacts/."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
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


def speech_wav(text: str, silence_s: int = 2) -> Path:
    """``text`` spoken by espeak-ng, then ``silence_s`` seconds of silence so the turn ends
    (and, longer, so its next playing comes only after the answer)."""
    if not shutil.which("espeak-ng"):
        pytest.fail("espeak-ng is missing; make test installs it (scripts/ensure-system-packages)")
    spoken = TEST_VAR_DIR / "spoken.wav"
    subprocess.run(["espeak-ng", "-w", str(spoken), text], check=True)
    path = TEST_VAR_DIR / "microphone.wav"
    with wave.open(str(spoken)) as source, wave.open(str(path), "wb") as out:
        out.setparams(source.getparams())
        out.writeframes(source.readframes(source.getnframes()))
        out.writeframes(b"\0\0" * source.getframerate() * silence_s)
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


QUESTION = "What is the order status of 1042?"


def ended_calls(simulator) -> list[dict]:
    return [e for e in simulator.log() if e["type"] == "simulator.call_ended"]


def end_and_wait(page, simulator, calls_before: int) -> None:
    """The page's End button; the session ends and the provider's call is hung up."""
    page.click("#end")
    page.wait_for_selector("#status[data-state=ended]", timeout=15_000)
    deadline = time.monotonic() + 15
    while len(ended_calls(simulator)) == calls_before and time.monotonic() < deadline:
        page.wait_for_timeout(100)


@pytest.mark.usefixtures("worker")
def test_a_direct_media_call_in_chromium_runs_the_models_tool_and_is_heard(voice_world, simulator):
    """``voice_direct``: the browser's media goes to the provider's (simulator's) peer; the
    control plane runs the model's ``order_status`` call as an execution and the page shows
    what it recorded, from the session's event stream."""
    server = voice_world
    # long silence after the question: its next playing does not talk over the answer
    microphone = speech_wav(QUESTION, silence_s=30)
    simulator.script_transcripts([QUESTION])
    cookie = login_cookie(server.base_url, "erin", ["team:a"])
    with chromium_page([*MEDIA_ARGS, f"--use-file-for-fake-audio-capture={microphone}"]) as page:
        violations = csp_violations(page)
        page.add_init_script(path=str(VOICE_PROBE))
        page.context.add_cookies([cookie])
        page.goto(f"{server.base_url}/sessions/{VOICE_NODE}.voice_direct/")
        assert "script-src 'self'" in page.evaluate(CSP_OF_THE_PAGE)
        assert page.inner_text(".page-head .media[data-media=direct]") == "direct media"
        assert page.is_hidden("#text-form")  # typed turns need the relayed call's channel
        page.screenshot(path=str(ARTIFACTS / "voice-direct-ready.png"), full_page=True)

        page.click("#start")
        page.wait_for_selector("#status[data-state=listening]", timeout=20_000)
        first_id = page.inner_text("#session-id")
        page.wait_for_selector("#transcript li.user", timeout=20_000)
        page.screenshot(path=str(ARTIFACTS / "voice-direct-listening.png"), full_page=True)
        page.wait_for_selector("#tools li[data-execution] .state.status-succeeded", timeout=30_000)
        page.locator("#transcript li.assistant", has_text=ORDER_1042).first.wait_for(timeout=30_000)
        wait_until(page, "() => window.voiceProbe.maxRms > 0.01", timeout=20)  # heard
        page.screenshot(path=str(ARTIFACTS / "voice-direct-answered.png"), full_page=True)
        assert QUESTION in page.inner_text("#transcript li.user")
        assert page.inner_text("#tools li[data-execution] .name") == "order_status"
        wait_until(page, "() => window.voiceProbe.states.includes('speaking')", timeout=20)
        page.wait_for_selector("#status[data-state=listening]", timeout=30_000)  # played out

        end_and_wait(page, simulator, calls_before=0)
        assert page.inner_text("#status").startswith("Call ended")
        page.screenshot(path=str(ARTIFACTS / "voice-direct-ended.png"), full_page=True)
        states = page.evaluate("window.voiceProbe.states")
        for state in ("starting", "connecting", "listening", "thinking", "speaking", "ended"):
            assert state in states, states
        assert page.is_visible("#replay") and page.inner_text("#start") == "Start a new call"

        page.click("#start")  # a second call on the same page starts clean
        page.wait_for_selector("#status[data-state=listening]", timeout=20_000)
        second_id = page.inner_text("#session-id")
        assert second_id and second_id != first_id
        assert page.locator("#transcript li.user, #transcript li.assistant").count() == 0
        assert page.locator("#tools li[data-key]").count() == 0
        assert page.is_hidden("#replay") and page.is_hidden("#error")
        page.screenshot(path=str(ARTIFACTS / "voice-direct-second-call.png"), full_page=True)
        end_and_wait(page, simulator, calls_before=1)
        assert violations == []  # both calls ran under the Content-Security-Policy

    first, second = (SessionInstance.objects.get(session_id=i) for i in (first_id, second_id))
    for session in (first, second):
        assert (session.media, session.status) == ("direct", "ended")
        assert session.end_reason == "ended by the client"
        assert session.audio_in_ms == 0  # no audio passed through the control plane
    [execution] = Execution.objects.filter(target_name=f"{TOOL_NODE}.order_status")
    assert (execution.session_id, execution.status) == (first_id, "succeeded")
    assert execution.input == {"question": QUESTION}
    assert execution.result["spoken_response"] == ORDER_1042
    tool_call = first.events.get(type="tool.call")
    assert tool_call.data["execution_id"] == execution.execution_id
    assert first.events.get(type="turn.assistant").data["text"] == ORDER_1042
    call_ids = [s.events.get(type="provider.call").data["call_id"] for s in (first, second)]
    hung_up = {e["call_id"]: e["reason"] for e in ended_calls(simulator)}
    assert hung_up == dict.fromkeys(call_ids, "hangup")  # the control plane hung each up


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
