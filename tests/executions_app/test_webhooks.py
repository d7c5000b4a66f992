"""Webhook egress: only global addresses, delivered to the address that was validated, and
only ASCII headers. Address checks use literals; DNS is a resolver the tests inject."""

from __future__ import annotations

import ssl

import httpx
import pytest

from access_app.models import Target
from executions_app.models import Execution, Status, WebhookStatus
from executions_app.services.webhooks import (
    InvalidWebhook,
    PinnedTransport,
    address_is_global,
    webhook_deliver,
    webhook_target,
    webhook_validate,
)
from tests.agent_double import AgentDouble
from tests.executions_app.resolvers import answers
from tests.executions_app.tls_server import certificate_for, recording_https_server
from tests.factories import allow_policy, register_approved_node

NOT_GLOBAL = [
    "127.0.0.1",
    "127.8.9.10",
    "0.0.0.0",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "100.64.0.1",  # shared address space (CGNAT)
    "169.254.169.254",  # cloud metadata
    "224.0.0.1",
    "240.0.0.1",
    "255.255.255.255",
    "::1",
    "::",
    "fe80::1",
    "fe80::1%eth0",
    "fd00::1",
    "ff02::1",
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:169.254.169.254",
    "2002:a01:203::1",  # 6to4 of 10.1.2.3
    "2001:db8::1",  # documentation
]
GLOBAL = ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "::ffff:93.184.216.34"]


@pytest.mark.parametrize("address", NOT_GLOBAL)
def test_an_address_that_is_not_global_is_refused(address):
    assert address_is_global(address) is False


@pytest.mark.parametrize("address", GLOBAL)
def test_a_global_address_passes(address):
    assert address_is_global(address) is True


def test_every_address_a_name_resolves_to_must_be_global(settings):
    settings.AGENTFIELD_ALLOW_PRIVATE_WEBHOOKS = False
    ok = webhook_target("https://hooks.example/x", resolve=answers("93.184.216.34"))
    assert (ok.host, ok.port, ok.address) == ("hooks.example", 443, "93.184.216.34")
    with pytest.raises(InvalidWebhook, match="not global"):
        webhook_target("https://hooks.example/x", resolve=answers("93.184.216.34", "10.0.0.7"))
    with pytest.raises(InvalidWebhook, match="never reached"):
        webhook_target("http://[::ffff:a9fe:a9fe]/x", resolve=answers())
    with pytest.raises(InvalidWebhook, match="does not resolve"):
        webhook_target("http://nowhere.example/x", resolve=answers())
    literal = answers("93.184.216.34")
    with pytest.raises(InvalidWebhook, match="never reached"):
        webhook_target("http://169.254.169.254/latest/meta-data", resolve=literal)
    assert literal.calls == [], "a literal address is not resolved"


@pytest.mark.parametrize(
    "url, resolved",
    [
        ("http://169.254.169.254/latest/meta-data", []),
        ("http://[::ffff:169.254.169.254]/", []),
        ("http://[fd00:ec2::254]/", []),
        ("http://[fd20:ce::254]/computeMetadata/v1/", []),
        ("http://100.100.100.200/", []),
        ("http://[fe80::1]/", []),
        ("http://0.0.0.0/", []),
        ("http://hooks.invalid/x", ["127.0.0.1", "169.254.169.254"]),
    ],
)
def test_metadata_and_link_local_are_refused_even_with_private_webhooks_allowed(
    settings, url, resolved
):
    settings.AGENTFIELD_ALLOW_PRIVATE_WEBHOOKS = True
    with pytest.raises(InvalidWebhook, match="never reached"):
        webhook_target(url, resolve=answers(*resolved))
    assert webhook_target("http://127.0.0.1:9/x", resolve=answers()).address == "127.0.0.1"


@pytest.mark.parametrize(
    ("headers", "problem"),
    [
        ({"X-Team": "caf\u00e9"}, "must be printable ASCII"),
        ({"X-Team": "a\r\nX-Injected: 1"}, "must be printable ASCII"),
        ({"X-Team": "nul\x00"}, "must be printable ASCII"),
        ({"X Team": "a"}, "must be an HTTP token"),
        ({"X-T\u00e9am": "a"}, "must be an HTTP token"),
        ({"Host": "internal.example"}, "set by the control plane"),
        ({"X-AgentField-Signature": "sha256=forged"}, "set by the control plane"),
    ],
)
def test_webhook_headers_must_be_ascii_tokens_with_printable_values(settings, headers, problem):
    settings.AGENTFIELD_ALLOW_PRIVATE_WEBHOOKS = True
    raw = {"url": "http://127.0.0.1:9/h", "headers": headers}
    with pytest.raises(InvalidWebhook, match=problem):
        webhook_validate(raw, resolve=answers())
    ok = webhook_validate({"url": raw["url"], "headers": {"X-Team": "a b\t~"}})
    assert ok.headers == {"X-Team": "a b\t~"}


@pytest.mark.django_db
def test_a_non_ascii_header_is_refused_at_submission_without_failing_the_execution(
    alice, admin, settings
):
    settings.AGENTFIELD_ALLOW_PRIVATE_WEBHOOKS = True
    register_approved_node(admin.client(), "support", "http://127.0.0.1:9", ["echo"])
    allow_policy()
    webhook = {"url": "http://127.0.0.1:9/h", "headers": {"X-Team": "\u00e9quipe"}}
    response = alice.client().post(
        "/api/v1/execute/async/support.echo", {"input": {}, "webhook": webhook}, format="json"
    )
    assert response.status_code == 202, response.content
    assert response.json()["webhook_registered"] is False
    assert "must be printable ASCII" in response.json()["webhook_error"]


# --- delivery: resolve once, validate, connect to that address ------------------------------


@pytest.fixture
def receiver():
    double = AgentDouble().start()
    double.behaviours["hook"] = lambda d, call: (200, {"ok": True})
    yield double
    double.stop()


def finished_with_webhook(admin, url: str, headers: dict | None = None) -> Execution:
    register_approved_node(admin.client(), "hooked", "http://127.0.0.1:9", ["done"])
    return Execution.objects.create(
        execution_id="exec_webhook_1",
        run_id="run_w",
        workflow_id="run_w",
        target=Target.objects.get(name="done"),
        target_name="hooked.done",
        target_type="reasoner",
        owner="key:1",
        status=Status.SUCCEEDED,
        result={"ok": 1},
        webhook_url=url,
        webhook_headers=headers or {},
        webhook_status=WebhookStatus.PENDING,
    )


@pytest.mark.django_db
def test_a_delivery_connects_to_the_address_it_validated_with_the_original_host(
    admin, receiver, settings
):
    settings.AGENTFIELD_ALLOW_PRIVATE_WEBHOOKS = True  # the receiver listens on loopback
    port = receiver.server.server_address[1]
    execution = finished_with_webhook(admin, f"http://hooks.invalid:{port}/hook", {"X-Team": "a"})
    # A second answer would point elsewhere (127.0.0.2, where nothing listens).
    first = ["127.0.0.1"]
    calls: list[tuple[str, int]] = []

    def resolve(host: str, port: int) -> list[str]:
        calls.append((host, port))
        return first if len(calls) == 1 else ["127.0.0.2"]

    assert webhook_deliver(execution.execution_id, resolve=resolve) is None
    assert calls == [("hooks.invalid", port)], "resolved once"
    [call] = receiver.calls_to("hook")
    assert call.headers["Host"] == f"hooks.invalid:{port}"
    assert call.headers["X-Team"] == "a"
    assert call.body["execution_id"] == execution.execution_id
    assert Execution.objects.get(pk=execution.pk).webhook_status == "delivered"


@pytest.mark.django_db
def test_a_delivery_whose_name_now_resolves_to_an_internal_address_is_not_sent(
    admin, receiver, settings
):
    settings.AGENTFIELD_ALLOW_PRIVATE_WEBHOOKS = False
    port = receiver.server.server_address[1]
    execution = finished_with_webhook(admin, f"http://hooks.invalid:{port}/hook")
    webhook_deliver(execution.execution_id, resolve=answers("127.0.0.1"))
    assert receiver.calls_to("hook") == []
    row = Execution.objects.get(pk=execution.pk)
    assert row.webhook_status == "pending"
    assert "not global" in row.webhook_last_error


def test_a_pinned_https_delivery_keeps_the_urls_name_for_sni_and_the_certificate(tmp_path):
    """Connected to the validated address, TLS still names and verifies the URL's host."""
    cert, key = certificate_for("hooks.invalid", tmp_path)
    with recording_https_server(cert, key) as (port, seen):
        client_context = ssl.create_default_context(cafile=cert)
        transport = PinnedTransport("127.0.0.1", ssl_context=client_context)
        with httpx.Client(transport=transport) as client:
            response = client.post(f"https://hooks.invalid:{port}/hook", content=b"{}")
        assert response.status_code == 204
        assert seen == {"sni": "hooks.invalid", "host": f"hooks.invalid:{port}"}
        other = PinnedTransport("127.0.0.1", ssl_context=ssl.create_default_context(cafile=cert))
        with httpx.Client(transport=other) as client, pytest.raises(httpx.ConnectError):
            client.post(f"https://elsewhere.invalid:{port}/hook", content=b"{}")
