"""The Go SDK (``sdk/go``) against a real control plane.

daphne, a Celery worker and the provider simulator run here; ``go test ./...`` runs in
``sdk/go`` with the server's URL and keys in its environment, and the brief's Go snippet
runs as a real process (``sdk/go/examples/brief``). Nothing is downloaded: the module has
no dependencies, and ``GOPROXY=off`` and ``GOTOOLCHAIN=local`` make sure of it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from agentfield.contract.definition import normalize_session_definition
from agentfield.contract.matrix import (
    SUPPORTED_SESSION_TRANSPORTS,
    SessionTransportError,
    validate_session_transport,
)
from agentfield.contract.media import SUPPORTED_SESSION_MEDIA
from devtools.processes import stop_process_groups
from provider_simulator import running_simulator
from tests.sdk_typescript.test_matrix import (
    DEFINITIONS,
    MEDIA,
    MEDIA_MESSAGES,
    media_outcome,
    python_outcome,
)
from tests.servers import daphne_server
from tests.worker import ROOT, TEST_VAR_DIR

pytestmark = pytest.mark.django_db(transaction=True)

SDK = ROOT / "sdk" / "go"
BRIEF = ROOT.parent / "shared" / "reference" / "product-brief.md"
GO_TEST_NODES = ["go-support", "go-voice", "go-desk", "go-refused"]
BRIEF_NODE = "voice-support-af"
BRIEF_SNIPPET = """\
app.RegisterSession("voice", "openai", "webrtc",
    agent.WithSessionModel("gpt-realtime-2"),
    agent.WithSessionModalities("audio", "text"),
    agent.WithSessionVoice("marin"),
    agent.WithSessionTools("support.resolve_voice_turn"),
    agent.WithSessionTags("support:voice", "pii:limited"),
)"""


def go_binary() -> str:
    """`make test` installs Go (Debian's golang-go) when it is missing; without it this fails."""
    found = shutil.which("go")
    if found is None:
        pytest.fail(
            "Go is not installed: `make test` installs it (golang-go), "
            "or run apt-get install golang-go"
        )
    return found


def go_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTFIELD_")}
    env.update(GOTOOLCHAIN="local", GOPROXY="off", **extra)
    env.setdefault("CGO_ENABLED", "0")  # GOFLAGS=-race CGO_ENABLED=1 for the race detector
    env.setdefault("GOCACHE", str(ROOT / "var" / "go-cache"))
    return env


def run_go(*args: str, timeout: float = 600, input: str | None = None, **env: str):
    return subprocess.run(
        [go_binary(), *args],
        cwd=SDK,
        env=go_env(**env),
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def simulator():
    with running_simulator() as handle:
        yield handle


def test_go_vet_and_gofmt_are_clean():
    vet = run_go("vet", "./...")
    assert vet.returncode == 0, vet.stdout + vet.stderr
    gofmt = subprocess.run(
        [str(Path(go_binary()).with_name("gofmt")), "-l", "."],
        cwd=SDK, capture_output=True, text=True,
    )  # fmt: skip
    assert gofmt.returncode == 0 and gofmt.stdout == "", gofmt.stdout + gofmt.stderr


def test_the_module_has_no_dependencies():
    go_mod = (SDK / "go.mod").read_text()
    assert "require" not in go_mod and not (SDK / "go.sum").exists()
    assert not (SDK / "vendor").exists()


@pytest.mark.usefixtures("worker")
def test_go_test_passes_against_a_real_control_plane(make_caller, simulator):
    admin = make_caller("admin", name="go admin")
    caller = make_caller("caller", tags=["team:a"], name="go caller")
    agent_keys = {
        node: make_caller("agent", node_id=node, name=f"{node} key").secret
        for node in GO_TEST_NODES
    }
    provider = {"OPENAI_API_KEY": "sk-simulator", "OPENAI_BASE_URL": simulator.base_url}
    with daphne_server("go-sdk", AGENTFIELD_DEFAULT_DENY="false", **provider) as server:
        result = run_go(
            "test", "-count=1", "-v", "./...",
            AGENTFIELD_GO_TEST_SERVER=server.base_url,
            AGENTFIELD_GO_TEST_ADMIN_KEY=admin.secret,
            AGENTFIELD_GO_TEST_CALLER_KEY=caller.secret,
            AGENTFIELD_GO_TEST_AGENT_KEYS=json.dumps(agent_keys),
        )  # fmt: skip
        output = result.stdout + result.stderr
        assert result.returncode == 0, f"go test failed:\n{output}\n--- daphne:\n{server.log()}"
    assert "--- SKIP" not in output, output  # every Go test ran against this control plane
    for name in [
        "TestAGoNodeWaitsForApprovalThenServesItsTargets",
        "TestTheControlPlaneRefusesWhatRegisterSessionRefusesWithTheSameMessage",
        "TestAModelDrivenGoSessionsToolCallRunsAGoReasoner",
        "TestAGoSessionHandlerRunsOncePerTurnUntilItEndsTheCall",
        "TestRunReturnsTheControlPlanesRefusal",
        "TestMaskedTextBothWaysIncludingA64BitLength",
    ]:
        assert f"--- PASS: {name}" in output, output
    for secret in [admin.secret, caller.secret, *agent_keys.values()]:
        assert secret not in output


def python_answer(provider: str, transport: str) -> dict:
    try:
        pair = validate_session_transport(provider, transport)
    except SessionTransportError as exc:
        return {
            "error": str(exc), "typed": True, "provider": exc.provider,
            "transport": exc.transport, "supported": list(exc.supported),
        }  # fmt: skip
    except ValueError as exc:
        return {"error": str(exc), "typed": False}
    return {"provider": pair.provider, "transport": pair.transport}


VOICE = {"name": "voice", "provider": "openai", "transport": "webrtc"}
# Beyond the TypeScript matrix's cases: where Go's types could make it differ.
GO_DEFINITIONS = [
    {**VOICE, "turn_detection": {"type": "semantic_vad"}},
    {**VOICE, "turn_detection": {"type": "semantic_vad", "silence_duration_ms": 1, "threshold": 1}},
    {**VOICE, "turn_detection": {"type": "server_vad", "prefix_padding_ms": 300.0}},
    {**VOICE, "turn_detection": {"type": "server_vad", "silence_duration_ms": 1.5}},
    {**VOICE, "turn_detection": {"type": "server_vad", "threshold": True}},
    {**VOICE, "turn_detection": {"type": "server_vad", "threshold": 1, "prefix_padding_ms": 0}},
    {**VOICE, "turn_detection": {"type": "semantic_vad", "interrupt_response": 1}},
    {**VOICE, "turn_detection": {"type": "server_vad", "create_response": 0, "eagerness": 0}},
    {**VOICE, "provider": " Open-AI ", "transport": 3},
    {**VOICE, "name": "  "},
    {**VOICE, "handler": 0, "model": None, "instructions": None, "metadata": {}},
    {**VOICE, "media": 0},
    {**VOICE, "media": "DIRECT", "transport": "Web-RTC"},
]


def test_the_go_matrix_and_its_messages_are_the_control_planes():
    pairs = [
        [provider, transport]
        for provider in ["openai", "OpenAI", " openrouter ", "custom", "", "open-ai"]
        for transport in ["webrtc", "WebRTC", "websocket", "audio_turns", "audio-turns", "", "sip"]
    ]
    definitions = [*DEFINITIONS, *GO_DEFINITIONS]
    media = [dict(zip(("media", "provider", "transport", "table"), c, strict=True)) for c in MEDIA]
    cases = {"pairs": pairs, "definitions": definitions, "media": media}
    result = run_go("run", "./internal/matrixdump", input=json.dumps(cases))
    assert result.returncode == 0, result.stderr
    dumped = json.loads(result.stdout)
    assert dumped["table"] == {p: list(t) for p, t in SUPPORTED_SESSION_TRANSPORTS.items()}
    for pair, answer in zip(pairs, dumped["results"], strict=True):
        assert answer == python_answer(*pair), pair
    # The same definitions as the TypeScript SDK's matrix (agentfield/contract/definition.py
    # and turn_detection.py), outcome and message byte for byte.
    for raw, theirs in zip(definitions, dumped["definitions"], strict=True):
        if "ok" in theirs:
            assert theirs["ok"].pop("approved_tags") == [], raw  # the Go type carries it
        assert theirs == python_outcome(normalize_session_definition, raw), raw
    messages = {o.get("error") for o in dumped["definitions"]}
    assert len(messages) > 15  # the cases reach every message, not one over and over
    # The media table and rules (agentfield/contract/media.py), with deployments' tables.
    assert dumped["mediaTable"] == {p: list(m) for p, m in SUPPORTED_SESSION_MEDIA.items()}
    for case, theirs in zip(MEDIA, dumped["media"], strict=True):
        assert theirs == media_outcome(*case), case
    reached = {o["error"] for o in dumped["media"] if "error" in o}
    for start in MEDIA_MESSAGES:
        assert any(message.startswith(start) for message in reached), start


def brief_go_block() -> str:
    text = BRIEF.read_text()
    match = re.search(r"Go:\s*```go\n(.*?)```", text, re.S)
    assert match, "the product brief has no Go block"
    return match.group(1).strip()


def dedented(text: str) -> list[str]:
    return [line.strip() for line in text.strip().splitlines()]


def test_the_example_holds_the_briefs_snippet_verbatim():
    main = (SDK / "examples" / "brief" / "main.go").read_text()
    lines = dedented(main)
    snippet = dedented(BRIEF_SNIPPET)
    starts = [i for i, line in enumerate(lines) if line == snippet[0]]
    assert any(lines[i : i + len(snippet)] == snippet for i in starts), main
    if BRIEF.exists():  # shared/ lies beside the repository (CI copies it there)
        assert dedented(brief_go_block()) == snippet


def node_detail(server, admin_secret: str) -> httpx.Response:
    return httpx.get(
        f"{server.base_url}/api/v1/nodes/{BRIEF_NODE}",
        headers={"X-API-Key": admin_secret}, timeout=10,
    )  # fmt: skip


def wait_for_log(log_path: Path, process: subprocess.Popen, text: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while text not in log_path.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(
                f"the brief example never logged {text!r}:\n{log_path.read_text()}"
            )
        time.sleep(0.05)


def test_the_briefs_snippet_runs_as_a_node_process(make_caller, tmp_path):
    admin = make_caller("admin", name="brief admin")
    caller = make_caller("caller", tags=["team:a"], name="brief caller")
    node_key = make_caller("agent", node_id=BRIEF_NODE, name="brief node").secret
    binary = tmp_path / "brief"
    build = run_go("build", "-o", str(binary), "./examples/brief")
    assert build.returncode == 0, build.stdout + build.stderr
    log_path = TEST_VAR_DIR / "go-brief.log"
    with (
        daphne_server("go-brief", AGENTFIELD_DEFAULT_DENY="false") as server,
        log_path.open("w") as log,
    ):
        process = subprocess.Popen(
            [str(binary)],
            env=go_env(AGENTFIELD_SERVER=server.base_url, AGENTFIELD_API_KEY=node_key),
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            wait_for_log(log_path, process, f"{BRIEF_NODE} is waiting for tag approval")
            node = node_detail(server, admin.secret).json()
            assert node["status"] == "pending_approval"
            assert node["base_url"].startswith("http://127.0.0.1:")  # a free loopback port
            [session] = node["sessions"]
            assert {k: session[k] for k in ("name", "provider", "transport", "model", "voice")} == {
                "name": "voice", "provider": "openai", "transport": "webrtc",
                "model": "gpt-realtime-2", "voice": "marin",
            }  # fmt: skip
            assert session["modalities"] == ["audio", "text"]
            assert session["tools"] == ["support.resolve_voice_turn"]
            assert sorted(session["proposed_tags"]) == ["pii:limited", "support:voice"]
            approved = httpx.post(
                f"{server.base_url}/api/v1/admin/agents/{BRIEF_NODE}/approve-tags",
                headers={"X-API-Key": admin.secret},
                json={"approved_tags": ["pii:limited", "support:voice"]}, timeout=10,
            )  # fmt: skip
            assert approved.status_code == 200, approved.text
            wait_for_log(log_path, process, f"{BRIEF_NODE} is ready")
            started = httpx.post(
                f"{server.base_url}/api/v1/session-targets/{BRIEF_NODE}.voice/start",
                headers={"X-API-Key": caller.secret}, json={}, timeout=10,
            )  # fmt: skip
            assert started.status_code == 201, started.text
            body = started.json()
            assert (body["provider"], body["transport"]) == ("openai", "webrtc")
            assert body["offer_url"].endswith("/realtime-offer")
            assert body["tool_targets"] == {"resolve_voice_turn": "support.resolve_voice_turn"}

            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=20) == 0, log_path.read_text()
        finally:
            stop_process_groups([process], grace=5)
        assert node_detail(server, admin.secret).json()["status"] == "offline"
    assert node_key not in log_path.read_text()
