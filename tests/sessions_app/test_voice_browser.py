"""The voice page in a real browser: headless Chromium with a spoken WAV file as its
microphone calls the control plane's own WebRTC peer, against the provider simulator, a
real Celery worker and a real agent node. Screenshots go to test-artifacts/."""

from __future__ import annotations

import json
import threading
import time

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client

from access_app.models import AccessPolicy, CallerProfile, Target
from access_app.services.approvals import target_tags_decide
from executions_app.models import Execution
from sessions_app.models import SessionInstance
from tests.agentfield_sdk.example_process import example_agent
from tests.browser import ARTIFACTS, CSP_OF_THE_PAGE, chromium_page, csp_violations, wait_until
from tests.factories import node_body, session_def
from tests.servers import daphne_server
from tests.sessions_app.helpers import TOOL_NODE, VOICE_NODE
from tests.sessions_app.voice_page import MEDIA_ARGS, VOICE_PROBE, assert_clean, speech_wav

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ORDER_1042 = (
    "Order 1042, noise-cancelling headphones, shipped with UPS and should arrive on Friday."
)


def login_cookie(base_url: str, username: str, tags: list[str]) -> dict:
    """A Django login session made in the test database, as a browser cookie (made before
    Playwright runs its event loop in this thread, where the ORM may not be used)."""
    user = get_user_model().objects.create_user(username, password="pw-12345678")
    CallerProfile.objects.create(user=user, tags=tags)
    client = Client()
    client.force_login(user)
    return {"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base_url}


MIC_PEAK_ABOVE_SILENCE = "() => Number(document.getElementById('mic-level').dataset.peak) > 0.02"


# The elements of the voice page's content that reach beyond the screen's width.
WIDER_THAN_THE_SCREEN = """() => [...document.querySelectorAll("main *")]
    .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
    .map((e) => `${e.tagName}#${e.id}.${e.className}`)"""


def in_order(history: str, states: list[str]) -> bool:
    """``states`` appear in ``history`` (the page's #status data-history) in this order."""
    shown = iter(history.split())
    return all(state in shown for state in states)


def mic_track_enabled(page) -> bool:
    return page.evaluate("window.voiceProbe.micStreams.at(-1).getAudioTracks()[0].enabled")


def sent_track_is_the_newest_microphone(page) -> bool:
    return page.evaluate(
        """() => {
            const sender = window.voiceProbe.peers.at(-1).getSenders().find((s) => s.track);
            return sender.track.id === window.voiceProbe.micStreams.at(-1).getAudioTracks()[0].id;
        }"""
    )


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
    """Relayed media: the state follows the audio, the answer's words appear as it plays,
    the meter hears the microphone, mute and another microphone reach the call's sender,
    the handler's tool call shows its arguments, result and execution; a typed goodbye
    ends it, and a new call starts on a clean page."""
    server = voice_world
    # long silence after the question: its next playing does not talk over the answer
    microphone = speech_wav("Hello, where is my order 1042?", silence_s=40, lead_s=6)
    simulator.script_transcripts(["Hello, where is my order 1042?"])
    ARTIFACTS.mkdir(exist_ok=True)
    cookie = login_cookie(server.base_url, "carol", ["team:a"])
    with chromium_page([*MEDIA_ARGS, f"--use-file-for-fake-audio-capture={microphone}"]) as page:
        violations = csp_violations(page)
        page.add_init_script(path=str(VOICE_PROBE))
        page.context.add_cookies([cookie])
        page.goto(f"{server.base_url}/sessions/{VOICE_NODE}.voice/")
        assert "script-src 'self'" in page.evaluate(CSP_OF_THE_PAGE)
        page.wait_for_selector("#start:enabled", timeout=10_000)  # the access check said yes
        assert page.is_hidden("#access") and "where is my order 1042" in page.inner_text("#hint")
        assert page.evaluate("window.voiceProbe.gumCalls") == 0  # no microphone before Start
        page.screenshot(path=str(ARTIFACTS / "voice-call-ready.png"), full_page=True)
        page.click("#start")
        page.wait_for_selector("#status[data-state=listening]", timeout=20_000)
        hints = page.evaluate("window.voiceProbe.hints")
        assert any(h.startswith("You are connected. Say something") for h in hints), hints
        page.wait_for_selector("#transcript li.user", timeout=20_000)
        page.screenshot(path=str(ARTIFACTS / "voice-call-listening.png"), full_page=True)
        wait_until(
            page, "() => Number(document.getElementById('mic-level').dataset.peak) > 0.02", 20
        )
        page.wait_for_selector("#tools li[data-execution] .state.status-succeeded", timeout=30_000)
        page.locator("#transcript li.assistant", has_text=ORDER_1042).first.wait_for(timeout=30_000)
        wait_until(page, "() => window.voiceProbe.maxRms > 0.01", timeout=20)
        page.wait_for_selector("#transcript li.assistant:not(.partial)", timeout=30_000)
        page.wait_for_selector("#status[data-state=listening]", timeout=30_000)  # played out
        page.screenshot(path=str(ARTIFACTS / "voice-call-answered.png"), full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})  # a phone, mid-call
        assert page.evaluate(WIDER_THAN_THE_SCREEN) == []
        page.screenshot(path=str(ARTIFACTS / "voice-call-answered-390.png"), full_page=True)
        page.set_viewport_size({"width": 1280, "height": 900})
        assert "where is my order 1042" in page.inner_text("#transcript")
        history = page.get_attribute("#status", "data-history")
        assert in_order(history, ["listening", "thinking", "speaking", "listening"]), history
        # the words came one after another as the answer played, not all at its end
        partials = page.evaluate("window.voiceProbe.partials")
        growing = [p for p in partials if ORDER_1042.startswith(p) and p != ORDER_1042]
        assert len(growing) >= 3, partials
        tool = page.locator("#tools li[data-execution]").first
        assert '"spoken_response"' in tool.locator(".tool-part.result pre").inner_text()
        assert '"turn"' in tool.locator(".tool-part.arguments pre").inner_text()
        link = tool.locator("a.tool-link")
        assert link.inner_text() == f"execution {tool.get_attribute('data-execution')}"
        workflow_href = link.get_attribute("href")
        assert workflow_href.startswith("/workflows/")

        page.click("#mute")
        assert page.get_attribute("#mute", "aria-pressed") == "true"
        assert mic_track_enabled(page) is False
        wait_until(page, "() => document.getElementById('mic-level').value === 0", 10)
        devices = page.eval_on_selector_all("#mic-select option", "(options) => options.length")
        assert devices >= 3, devices  # "Default" and Chromium's fake microphones
        page.select_option("#mic-select", index=2)  # another microphone, mid-call
        wait_until(page, "() => window.voiceProbe.gumCalls === 2", 10)
        wait_until(page, "() => window.voiceProbe.micStreams.length === 2", 10)
        assert sent_track_is_the_newest_microphone(page)
        assert mic_track_enabled(page) is False  # still muted on the new microphone
        session_id = page.inner_text("#session-id")

        page.fill("#text", "Thanks, goodbye.")
        page.click("#send")
        # the handler answers each turn (returning does not hang up) and ends on goodbye
        page.wait_for_selector("#status[data-state=ended]", timeout=30_000)
        assert "Thanks for calling. Goodbye!" in page.inner_text("#transcript")
        page.screenshot(path=str(ARTIFACTS / "voice-call-ended.png"), full_page=True)

        page.click("#start")  # "Start a new call": a clean page
        page.wait_for_selector("#status[data-state=listening]", timeout=20_000)
        assert page.inner_text("#session-id") not in ("", session_id)
        assert_clean(page)
        assert mic_track_enabled(page) is True
        page.click("#end")
        page.wait_for_selector("#status[data-state=ended]", timeout=15_000)
        response = page.goto(f"{server.base_url}{workflow_href}")
        assert response.status == 200 and "resolve_voice_turn" in page.content()
        assert violations == []  # the whole call ran under the Content-Security-Policy

    session = SessionInstance.objects.get(session_id=session_id)
    assert (session.status, session.end_reason) == ("ended", "the caller said goodbye")
    user_turns = session.events.filter(type="turn.user").order_by("id")
    assert [t.data["modality"] for t in user_turns] == ["audio", "text"]
    assert user_turns.first().data["audio_ms"] > 0  # heard as speech
    assert session.audio_in_ms > 0 and session.audio_out_ms > 0
    execution = Execution.objects.filter(target_name="support.resolve_voice_turn").earliest(
        "created_at"
    )
    assert execution.session_id == session_id and execution.status == "succeeded"
    assert execution.result["spoken_response"] == ORDER_1042
    assert workflow_href == f"/workflows/{execution.workflow_id}/"


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
    microphone = speech_wav(QUESTION, silence_s=30, lead_s=6)
    simulator.script_transcripts([QUESTION])
    simulator.set_pace(1.0)  # the answer's audio and words as a real provider sends them
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
        history = page.get_attribute("#status", "data-history")
        assert in_order(history, ["listening", "thinking", "speaking", "listening"]), history
        partials = page.evaluate("window.voiceProbe.partials")
        assert len([p for p in partials if ORDER_1042.startswith(p)]) >= 2, partials
        tool = page.locator("#tools li[data-execution]").first
        arguments = tool.locator(".tool-part.arguments pre").inner_text()
        assert json.loads(arguments) == {"question": QUESTION} and "\n" in arguments  # pretty
        assert ORDER_1042 in tool.locator(".tool-part.result pre").inner_text()
        execution_link = tool.locator("a.tool-link").get_attribute("href")
        assert execution_link.startswith("/workflows/")

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
        assert_clean(page)
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
    assert execution_link == f"/workflows/{execution.workflow_id}/"
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
    it is open says so when Start is pressed, before the microphone is asked for."""
    server = voice_world
    microphone = speech_wav("Hello.")
    cookie = login_cookie(server.base_url, "dave", ["team:a"])
    with chromium_page([*MEDIA_ARGS, f"--use-file-for-fake-audio-capture={microphone}"]) as page:
        page.add_init_script(path=str(VOICE_PROBE))
        page.context.add_cookies([cookie])
        assert page.goto(f"{server.base_url}/sessions/{VOICE_NODE}.voice/").status == 200
        page.wait_for_selector("#start:enabled", timeout=10_000)
        _in_a_thread(
            lambda: CallerProfile.objects.filter(user__username="dave").update(tags=["team:z"])
        )
        page.click("#start")
        page.wait_for_selector("#access:not([hidden])", timeout=15_000)
        assert page.inner_text("#access-reason").startswith("Access denied")
        assert "Ask an admin" in page.inner_text("#access-hint")
        assert page.get_attribute("#status", "data-state") == "blocked"
        assert page.is_disabled("#start")
        assert page.evaluate("window.voiceProbe.gumCalls") == 0
        page.screenshot(path=str(ARTIFACTS / "voice-call-denied.png"), full_page=True)
        assert page.goto(f"{server.base_url}/sessions/{VOICE_NODE}.voice/").status == 404
    assert not SessionInstance.objects.exists()


def test_tags_pending_approval_are_said_before_the_microphone_is_asked_for(admin):
    """Relay and direct: the page of a target whose tags wait says which and whom to ask,
    never asks for the microphone, and lets the call start once an admin approved them;
    at 390 px it is no wider than the screen."""
    body = node_body(
        VOICE_NODE,
        reasoners=[],
        sessions=[session_def("voice"), session_def("voice_direct", media="direct")],
    )
    assert admin.client().post("/api/v1/nodes/register", body, format="json").status_code == 201
    AccessPolicy.objects.create(
        name="team-a-starts-voice", caller_tags=["team:a"], target_tags=["support:voice"],
        action="allow",
    )  # fmt: skip
    env = {"OPENAI_API_KEY": "sk-simulator", "AGENTFIELD_WEBRTC_ICE_HOSTS": "127.0.0.1"}
    with daphne_server("voice-pending", **env) as server:
        cookie = login_cookie(server.base_url, "frank", ["team:a"])
        with chromium_page(MEDIA_ARGS) as page:
            violations = csp_violations(page)
            page.set_viewport_size({"width": 390, "height": 844})
            page.add_init_script(path=str(VOICE_PROBE))
            page.context.add_cookies([cookie])
            for name in ("voice", "voice_direct"):
                page.goto(f"{server.base_url}/sessions/{VOICE_NODE}.{name}/")
                page.wait_for_selector("#access:not([hidden])", timeout=10_000)
                assert page.get_attribute("#access", "data-reason") == "tags_pending"
                reason = page.inner_text("#access-reason")
                assert "pii:limited, support:voice" in reason, reason
                assert page.inner_text("#access-hint") == (
                    "Ask an admin to approve the tags pii:limited, support:voice on the "
                    "Approvals page."
                )
                assert page.get_attribute("#access-link", "href") == "/access/approvals/"
                assert page.get_attribute("#status", "data-state") == "blocked"
                assert page.is_disabled("#start")
                page.click("#recheck")  # still waiting
                page.wait_for_selector("#status[data-state=blocked]", timeout=10_000)
                assert page.evaluate("window.voiceProbe.gumCalls") == 0  # never asked
                shot = ARTIFACTS / f"voice-pending-{name}-390.png"
                page.screenshot(path=str(shot), full_page=True)
                assert page.evaluate(WIDER_THAN_THE_SCREEN) == []  # no overflow on a phone

            def approve() -> None:
                for target in Target.objects.filter(node__node_id=VOICE_NODE):
                    target_tags_decide(target=target, decision="approved", actor="test")

            _in_a_thread(approve)
            page.click("#recheck")
            page.wait_for_selector("#start:enabled", timeout=10_000)
            assert page.is_hidden("#access")
            assert page.get_attribute("#status", "data-state") == "idle"
            assert page.evaluate("window.voiceProbe.gumCalls") == 0
            assert violations == []
