"""Execution webhooks as upstream: validated at submission, signed, retried with a bound."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.db.models import F
from django.utils import timezone

from executions_app.models import Execution, Status, WebhookStatus

log = logging.getLogger(__name__)

MAX_HEADERS = 20
MAX_HEADER_LENGTH = 512
MAX_SECRET_LENGTH = 4096
MAX_ATTEMPTS = 5
MAX_BACKOFF_SECONDS = 300
DELIVERY_TIMEOUT_SECONDS = 10
SIGNATURE_HEADER = "X-AgentField-Signature"


@dataclass(frozen=True)
class WebhookSpec:
    url: str
    secret: str
    headers: dict[str, str]


class InvalidWebhook(ValueError):
    pass


def _address_is_private(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
    )


def _host_is_private(host: str) -> bool:
    """True if ``host`` is, or resolves to, a loopback, private or otherwise internal address."""
    try:
        return _address_is_private(host.strip("[]"))
    except ValueError:
        pass
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        raise InvalidWebhook(f"webhook host {host!r} does not resolve") from None
    return any(_address_is_private(info[4][0]) for info in infos)


def webhook_validate(raw: dict[str, Any]) -> WebhookSpec:
    url = str(raw.get("url") or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidWebhook("webhook url must be an http(s) URL")
    if parts.username or parts.password:
        raise InvalidWebhook("webhook url must not contain credentials")
    if not settings.AGENTFIELD_ALLOW_PRIVATE_WEBHOOKS and _host_is_private(parts.hostname):
        raise InvalidWebhook(
            "webhook url points to a loopback or private address "
            "(set AGENTFIELD_ALLOW_PRIVATE_WEBHOOKS to allow it)"
        )
    secret = str(raw.get("secret") or "")
    if len(secret) > MAX_SECRET_LENGTH:
        raise InvalidWebhook(f"webhook secret is longer than {MAX_SECRET_LENGTH} characters")
    headers = raw.get("headers") or {}
    if not isinstance(headers, dict) or len(headers) > MAX_HEADERS:
        raise InvalidWebhook(f"webhook headers must be an object of at most {MAX_HEADERS}")
    for name, value in headers.items():
        if (
            not isinstance(value, str)
            or len(name) > MAX_HEADER_LENGTH
            or len(value) > (MAX_HEADER_LENGTH)
        ):
            raise InvalidWebhook(f"webhook header {name!r} is invalid or too long")
    return WebhookSpec(url=url, secret=secret, headers=dict(headers))


def sign(secret: str, body: bytes) -> str:
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


def webhook_deliver(execution_id: str) -> float | None:
    """Try one delivery. Returns the delay before the next try, or None when done."""
    claimed = Execution.objects.filter(
        execution_id=execution_id,
        webhook_status__in=[WebhookStatus.PENDING, WebhookStatus.DELIVERING],
    ).update(webhook_status=WebhookStatus.DELIVERING, webhook_attempts=F("webhook_attempts") + 1)
    if not claimed:
        return None
    execution = Execution.objects.get(execution_id=execution_id)
    body = json.dumps(webhook_payload(execution), separators=(",", ":"), default=str).encode()
    headers = {**execution.webhook_headers, "Content-Type": "application/json"}
    if execution.webhook_secret:
        headers[SIGNATURE_HEADER] = sign(execution.webhook_secret, body)
    try:
        response = httpx.post(
            execution.webhook_url, content=body, headers=headers, timeout=DELIVERY_TIMEOUT_SECONDS
        )
        error = "" if response.is_success else f"HTTP {response.status_code}"
    except httpx.HTTPError as exc:
        error = type(exc).__name__
    if not error:
        Execution.objects.filter(pk=execution.pk).update(
            webhook_status=WebhookStatus.DELIVERED, webhook_last_error=""
        )
        return None
    final = execution.webhook_attempts >= MAX_ATTEMPTS
    Execution.objects.filter(pk=execution.pk).update(
        webhook_status=WebhookStatus.FAILED if final else WebhookStatus.PENDING,
        webhook_last_error=error,
    )
    log.info(
        "webhook for %s failed (%s), attempt %s", execution_id, error, execution.webhook_attempts
    )
    return None if final else webhook_backoff(execution.webhook_attempts)
