"""Execution webhooks as upstream: validated at submission, signed, retried with a bound.

A webhook URL is the caller's choice, so it reaches only global addresses, and each
delivery connects to the address it validated (resolve once, check, pin).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import re
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx
from django.conf import settings
from django.db.models import F
from django.utils import timezone

from access_app.addresses import Resolver, as_address, never_reached, system_resolve
from executions_app.models import Execution, Status, WebhookStatus

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-AgentField-Signature"
MAX_HEADERS = 20
MAX_HEADER_LENGTH = 512
HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,128}")  # an RFC 9110 token
HEADER_VALUE = re.compile(r"[\x20-\x7e\t]*")  # printable ASCII: no CR, LF, NUL, no UTF-8
# Set by the control plane (or by HTTP itself), never by the caller.
RESERVED_HEADERS = frozenset(
    {"host", "content-type", "content-length", "transfer-encoding", "connection"}
) | {SIGNATURE_HEADER.lower()}
MAX_SECRET_LENGTH = 4096
MAX_ATTEMPTS = 5
MAX_BACKOFF_SECONDS = 300
DELIVERY_TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class WebhookSpec:
    url: str
    secret: str
    headers: dict[str, str]


class InvalidWebhook(ValueError):
    pass


def address_is_global(address: str) -> bool:
    """True for a globally routable unicast address: never loopback, private, shared (CGNAT),
    link-local (cloud metadata), reserved, multicast or unspecified, nor such an IPv4
    address written as IPv6."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # ::ffff:a.b.c.d is that IPv4 address
            return address_is_global(str(ip.ipv4_mapped))
        embedded = ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None and not address_is_global(str(embedded)):
            return False
    return ip.is_global and not ip.is_multicast


def _never(address: str) -> bool:
    """Never reached, even with private webhooks allowed (``access_app/addresses.py``)."""
    ip = as_address(address)
    return ip is None or never_reached(ip)


@dataclass(frozen=True)
class WebhookTarget:
    """Where one delivery goes: the URL as given, and the one address it may connect to."""

    url: str
    host: str
    port: int
    address: str


def webhook_target(url: str, *, resolve: Resolver = system_resolve) -> WebhookTarget:
    """Resolve the URL's host once and validate every address it has.

    Link-local, metadata and nothing-addresses never pass (``never_reached``). Unless
    ``AGENTFIELD_ALLOW_PRIVATE_WEBHOOKS`` is set (tests, closed networks), only global
    addresses pass; the delivery then connects to the address returned here and nowhere
    else, so a second DNS answer cannot point it at an internal service.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidWebhook("webhook url must be an http(s) URL")
    if parts.username or parts.password:
        raise InvalidWebhook("webhook url must not contain credentials")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise InvalidWebhook("webhook url has an invalid port") from None
    host = parts.hostname
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        try:
            addresses = resolve(host, port)
        except (OSError, UnicodeError):
            addresses = []
        if not addresses:
            raise InvalidWebhook(f"webhook host {host!r} does not resolve") from None
    if any(_never(a) for a in addresses):
        raise InvalidWebhook(
            "webhook url points to an address that is never reached (link-local, "
            "cloud metadata, unspecified or multicast), whatever the settings say"
        )
    private_allowed = settings.AGENTFIELD_ALLOW_PRIVATE_WEBHOOKS
    if not private_allowed and not all(address_is_global(a) for a in addresses):
        raise InvalidWebhook(
            "webhook url points to an address that is not global (loopback, private, "
            "link-local or reserved); set AGENTFIELD_ALLOW_PRIVATE_WEBHOOKS to allow it"
        )
    return WebhookTarget(url=url, host=host, port=port, address=addresses[0])


def _header_problem(name: Any, value: Any) -> str | None:
    if not isinstance(name, str) or not HEADER_NAME.fullmatch(name):
        return f"webhook header name {name!r} must be an HTTP token"
    if name.lower() in RESERVED_HEADERS:
        return f"webhook header {name!r} is set by the control plane"
    if not isinstance(value, str) or len(name) + len(value) > MAX_HEADER_LENGTH:
        return f"webhook header {name!r} is invalid or too long"
    if not HEADER_VALUE.fullmatch(value):
        return f"webhook header {name!r} must be printable ASCII"
    return None


def webhook_headers_check(headers: Any) -> dict[str, str]:
    """Caller-chosen headers: at most ``MAX_HEADERS`` token names with printable ASCII
    values (no CR, LF or other control characters, nothing beyond ASCII); the ones the
    control plane sets itself are refused."""
    if not isinstance(headers, dict) or len(headers) > MAX_HEADERS:
        raise InvalidWebhook(f"webhook headers must be an object of at most {MAX_HEADERS}")
    for name, value in headers.items():
        problem = _header_problem(name, value)
        if problem:
            raise InvalidWebhook(problem)
    return dict(headers)


def webhook_validate(raw: dict[str, Any], *, resolve: Resolver = system_resolve) -> WebhookSpec:
    url = str(raw.get("url") or "").strip()
    webhook_target(url, resolve=resolve)
    secret = str(raw.get("secret") or "")
    if len(secret) > MAX_SECRET_LENGTH:
        raise InvalidWebhook(f"webhook secret is longer than {MAX_SECRET_LENGTH} characters")
    headers = webhook_headers_check(raw.get("headers") or {})
    return WebhookSpec(url=url, secret=secret, headers=headers)


class _PinnedBackend(httpcore.SyncBackend):
    """Opens every TCP connection to one address, whatever host the request names."""

    def __init__(self, address: str) -> None:
        self.address = address

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        return super().connect_tcp(
            self.address,
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )


POOL_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)  # httpx's


class PinnedTransport(httpx.HTTPTransport):
    """An httpx transport bound to a validated address: it connects there, while the Host
    header, TLS SNI and certificate check still use the URL's host. No proxy, no DNS."""

    def __init__(
        self,
        address: str,
        *,
        ssl_context: ssl.SSLContext | None = None,
        limits: httpx.Limits = POOL_LIMITS,
    ) -> None:
        super().__init__(trust_env=False)
        self.address = address
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context or httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_PinnedBackend(address),
        )


def webhook_sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_payload(execution: Execution) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "event": "execution.completed"
        if execution.status == Status.SUCCEEDED
        else "execution.failed",
        "execution_id": execution.execution_id,
        "workflow_id": execution.workflow_id,
        "run_id": execution.run_id,
        "agent_node_id": execution.target_name.split(".", 1)[0],
        "reasoner_id": execution.target_name.split(".", 1)[1],
        "status": execution.status,
        "status_reason": execution.status_reason or None,
        "target": execution.target_name,
        "type": execution.target_type,
        "started_at": execution.started_at.isoformat() if execution.started_at else None,
        "completed_at": execution.completed_at.isoformat() if execution.completed_at else None,
        "duration_ms": execution.duration_ms,
        "retry_count": max(0, execution.attempts - 1),
        "error_category": execution.error_category or None,
        "session_id": execution.session_id or None,
        "actor_id": execution.actor_id or None,
        "context": execution.context or None,
        "timestamp": timezone.now().isoformat(),
    }
    if execution.status == Status.SUCCEEDED:
        payload["result"] = execution.result
    else:
        payload["error_message"] = execution.error_message
    return payload


def webhook_backoff(attempt: int) -> float:
    """5 s x 2^(n-1), capped at 5 minutes (the base comes from settings for tests)."""
    return min(settings.AGENTFIELD_WEBHOOK_RETRY_BASE * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS)


def _post(execution: Execution, body: bytes, resolve: Resolver) -> str:
    """One delivery attempt; the error ("" on success). Resolve once, validate, connect to
    that address."""
    try:
        target = webhook_target(execution.webhook_url, resolve=resolve)
        headers = webhook_headers_check(execution.webhook_headers or {})
    except InvalidWebhook as exc:
        return str(exc)
    headers = {**headers, "Content-Type": "application/json"}
    if execution.webhook_secret:
        headers[SIGNATURE_HEADER] = webhook_sign(execution.webhook_secret, body)
    transport = PinnedTransport(target.address)
    try:
        with httpx.Client(
            transport=transport, timeout=DELIVERY_TIMEOUT_SECONDS, trust_env=False
        ) as client:
            response = client.post(target.url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return type(exc).__name__
    return "" if response.is_success else f"HTTP {response.status_code}"


def webhook_deliver(execution_id: str, *, resolve: Resolver = system_resolve) -> float | None:
    """Try one delivery. Returns the delay before the next try, or None when done."""
    claimed = Execution.objects.filter(
        execution_id=execution_id,
        webhook_status__in=[WebhookStatus.PENDING, WebhookStatus.DELIVERING],
    ).update(webhook_status=WebhookStatus.DELIVERING, webhook_attempts=F("webhook_attempts") + 1)
    if not claimed:
        return None
    execution = Execution.objects.get(execution_id=execution_id)
    body = json.dumps(webhook_payload(execution), separators=(",", ":"), default=str).encode()
    error = _post(execution, body, resolve)
    if not error:
        Execution.objects.filter(pk=execution.pk).update(
            webhook_status=WebhookStatus.DELIVERED, webhook_last_error=""
        )
        return None
    final = execution.webhook_attempts >= MAX_ATTEMPTS
    Execution.objects.filter(pk=execution.pk).update(
        webhook_status=WebhookStatus.FAILED if final else WebhookStatus.PENDING,
        webhook_last_error=error[:500],
    )
    log.info(
        "webhook for %s failed (%s), attempt %s", execution_id, error, execution.webhook_attempts
    )
    return None if final else webhook_backoff(execution.webhook_attempts)
