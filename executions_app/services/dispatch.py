"""Running one execution: claim it, call the agent node over HTTP, record the outcome.

Claiming is a conditional UPDATE (queued -> running), so a redelivered task never calls the
agent twice. A call whose worker died is never re-sent (the agent may have done the work):
it fails with ``worker_lost``. A queued execution whose task was lost is enqueued again.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from access_app.addresses import Resolver, as_address, system_resolve
from access_app.reach import LOCALHOST, BaseUrlRefused, BaseUrlUnresolved, agent_addresses
from access_app.selectors import target_with_node
from executions_app.answers import UnstorableAnswer, answer_check, answer_loads, safe_text
from executions_app.models import Execution, Status
from executions_app.queue import enqueue_dispatch_on_commit
from executions_app.services.lifecycle import execution_finish, execution_finish_claimed
from executions_app.services.webhooks import PinnedTransport

log = logging.getLogger(__name__)

LEASE_MARGIN = timedelta(seconds=30)
QUEUED_GRACE = timedelta(seconds=30)
CONNECT_TIMEOUT = 5.0
WORKER_LOST_MESSAGE = (
    "the worker running this call stopped before it finished; the call is not retried "
    "because the agent may already have done the work"
)

# (status, error_category) for each outcome that ends the execution.
FINAL_OUTCOMES = {
    "succeeded": (Status.SUCCEEDED, ""),
    "agent_error": (Status.FAILED, "agent_error"),
    "timeout": (Status.TIMEOUT, "timeout"),
    "retryable": (Status.FAILED, "agent_unreachable"),
    "lost": (Status.FAILED, "agent_unreachable"),
    "refused": (Status.FAILED, "agent_unreachable"),
}
PINNED_CLIENTS_MAX = 64

_client: httpx.Client | None = None
_client_pid: int | None = None
_pinned: dict[tuple[str, str, int], tuple[str, httpx.Client]] = {}
_pinned_pid: int | None = None
_pinned_lock = threading.Lock()


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _timeout() -> httpx.Timeout:
    return httpx.Timeout(settings.AGENTFIELD_AGENT_CALL_TIMEOUT, connect=CONNECT_TIMEOUT)


_LIMITS = httpx.Limits(max_keepalive_connections=50)


def http_client() -> httpx.Client:
    """One pooled client per process (keep-alive to agent nodes); rebuilt after a fork.
    It connects by the URL's host, so it serves address literals and ``localhost`` only."""
    global _client, _client_pid
    if _client is None or _client_pid != os.getpid():
        _client = httpx.Client(timeout=_timeout(), limits=_LIMITS)
        _client_pid = os.getpid()
    return _client


def _pinned_client(scheme: str, host: str, port: int, address: str) -> httpx.Client:
    """A pooled client for one named origin that connects only to ``address`` (the Host
    header and TLS name stay ``host``). Kept while the name's answer stays the same, so
    keep-alive survives; a new answer gets a new pool and the old one is closed."""
    global _pinned_pid
    key = (scheme, host, port)
    with _pinned_lock:
        if _pinned_pid != os.getpid():  # a forked child never shares its parent's sockets
            _pinned.clear()
            _pinned_pid = os.getpid()
        pinned_to, client = _pinned.get(key, ("", None))
        if client is not None and pinned_to == address:
            return client
        stale = [_pinned.pop(key)[1]] if client is not None else []
        if len(_pinned) >= PINNED_CLIENTS_MAX:
            stale.append(_pinned.pop(next(iter(_pinned)))[1])
        client = httpx.Client(
            transport=PinnedTransport(address, limits=_LIMITS), timeout=_timeout(), trust_env=False
        )
        _pinned[key] = (address, client)
    for old in stale:
        old.close()
    return client


@functools.lru_cache(maxsize=1024)
def _direct_refusal(host: str, networks: tuple[str, ...]) -> str:
    """Why an address literal or ``localhost`` may not be called ("" when it may): cached,
    so the hot path (nodes on 127.0.0.1) pays no lookup and no parsing per call."""
    try:
        agent_addresses(host, 0, networks=networks)
    except BaseUrlRefused as exc:
        return str(exc)
    return ""


def agent_client(base_url: str, *, resolve: Resolver = system_resolve) -> httpx.Client:
    """The client that calls ``base_url`` at an address checked for this call.

    A node's ``base_url`` is checked at registration, but a name's DNS answer may change
    afterwards (rebinding), so a name is resolved once per call, every address it gives is
    checked with ``agent_address_allowed``, and the call connects to that address (decision
    0015). An address literal or exact ``localhost`` needs no lookup and uses the shared
    pool. Raises ``BaseUrlRefused`` (``BaseUrlUnresolved`` when the name has no answer)."""
    parts = urlsplit(base_url)
    host = (parts.hostname or "").lower()
    networks = tuple(settings.AGENTFIELD_AGENT_NETWORKS)
    if host == LOCALHOST or as_address(host) is not None:
        refusal = _direct_refusal(host, networks)
        if refusal:
            raise BaseUrlRefused(refusal)
        return http_client()
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = agent_addresses(host, port, resolve=resolve, networks=networks)
    return _pinned_client(parts.scheme, host, port, str(addresses[0]))


@dataclass(frozen=True)
class AgentOutcome:
    kind: str  # succeeded | accepted | agent_error | retryable | lost | timeout | refused
    result: Any = None
    error: str = ""


def _agent_headers(execution: Execution) -> dict[str, str]:
    headers = {
        "Authorization": f"Bearer {execution.target.node.dispatch_token}",
        "X-Execution-ID": execution.execution_id,
        "X-Run-ID": execution.run_id,
        "X-Workflow-ID": execution.workflow_id,
        "X-Parent-Execution-ID": execution.parent_execution_id,
        "X-Session-ID": execution.session_id,
        "X-Actor-ID": execution.actor_id,
    }
    return {name: value for name, value in headers.items() if value}


def _body_text(response: httpx.Response) -> str:
    return safe_text(response.text[:2000]) or f"HTTP {response.status_code}"


def _result_of(response: httpx.Response) -> Any:
    """The JSON answer, or its text when it is not JSON; ``UnstorableAnswer`` if neither
    can be stored."""
    try:
        return answer_loads(response.content)
    except UnstorableAnswer:
        raise
    except ValueError:
        return answer_check(response.text)


def agent_call(execution: Execution, *, resolve: Resolver = system_resolve) -> AgentOutcome:
    node = execution.target.node
    kind = "reasoners" if execution.target_type == "reasoner" else "skills"
    url = f"{node.base_url.rstrip('/')}/{kind}/{execution.target.name}"
    try:
        client = agent_client(node.base_url, resolve=resolve)
    except BaseUrlUnresolved as exc:  # no answer now: the call never left, try again
        return AgentOutcome("retryable", error=f"agent unreachable: {exc}")
    except BaseUrlRefused as exc:
        return AgentOutcome("refused", error=f"agent not called: {exc}")
    try:
        response = client.post(url, json=execution.input, headers=_agent_headers(execution))
    except httpx.ReadTimeout:
        limit = settings.AGENTFIELD_AGENT_CALL_TIMEOUT
        return AgentOutcome("timeout", error=f"the agent did not answer within {limit:g} s")
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        # The request never left: safe to send again.
        return AgentOutcome("retryable", error=f"agent unreachable: {type(exc).__name__}")
    except httpx.TransportError as exc:
        # The connection broke after the request was sent: the agent may be doing the work,
        # so it is not sent again (at most once).
        return AgentOutcome(
            "lost", error=f"the connection to the agent broke mid-call: {type(exc).__name__}"
        )
    except Exception as exc:
        # E.g. a header httpx cannot encode. Nothing was sent: the execution fails and the
        # task lives on to record it (the API refuses such ids; this is the second guard).
        what = type(exc).__name__
        log.warning("execution %s: request not built: %s", execution.execution_id, what)
        return AgentOutcome(
            "agent_error", error=f"the request to the agent could not be built: {what}"
        )
    if response.status_code == 202:
        return AgentOutcome("accepted")
    if response.is_success:
        try:
            result = _result_of(response)
        except UnstorableAnswer as exc:
            return AgentOutcome("agent_error", error=str(exc))
        return AgentOutcome("succeeded", result=result)
    if response.status_code >= 500:
        return AgentOutcome(
            "retryable", error=f"agent answered {response.status_code}: {_body_text(response)}"
        )
    return AgentOutcome(
        "agent_error", error=f"agent answered {response.status_code}: {_body_text(response)}"
    )


@functools.cache
def _claim_sql(vendor: str) -> str:
    column = {f.name: connection.ops.quote_name(f.column) for f in Execution._meta.concrete_fields}
    table = connection.ops.quote_name(Execution._meta.db_table)
    return (
        f"UPDATE {table} SET {column['status']} = %s, {column['claimed_by']} = %s, "
        f"{column['lease_expires_at']} = %s, "
        f"{column['started_at']} = COALESCE({column['started_at']}, %s), "
        f"{column['attempts']} = {column['attempts']} + 1 "
        f"WHERE {column['execution_id']} = %s AND {column['status']} = %s RETURNING *"
    )


def execution_claim(execution_id: str, claimed_by: str) -> Execution | None:
    """queued -> running for ``claimed_by``, and the row as it now is; None if it was not
    queued. One statement (``UPDATE ... RETURNING``, PostgreSQL and SQLite >= 3.35): the
    ORM's ``update()`` returns no rows, and a second query is one more round trip on the
    path every execution takes (decision 0006)."""
    now = timezone.now()
    lease = now + timedelta(seconds=settings.AGENTFIELD_AGENT_CALL_TIMEOUT) + LEASE_MARGIN
    adapt = connection.ops.adapt_datetimefield_value
    params = [Status.RUNNING, claimed_by, adapt(lease), adapt(now), execution_id, Status.QUEUED]
    return next(iter(Execution.objects.raw(_claim_sql(connection.vendor), params)), None)


def execution_dispatch(execution_id: str, *, resolve: Resolver = system_resolve) -> float | None:
    """Run one attempt. Returns a countdown when the task should try again, else None."""
    me = worker_id()
    execution = execution_claim(execution_id, me)
    if execution is None:
        executions_recover(execution_ids=[execution_id])
        return None
    target = target_with_node(execution.target_id)  # cached; the node's address and token
    if target is not None:
        execution.target = target
    outcome = agent_call(execution, resolve=resolve)
    return _record(execution, outcome, me)


def _record(execution: Execution, outcome: AgentOutcome, me: str) -> float | None:
    mine = Execution.objects.filter(pk=execution.pk, status=Status.RUNNING, claimed_by=me)
    if outcome.kind == "accepted":
        mine.update(
            awaiting_callback=True,
            claimed_by="",
            status_reason="awaiting the agent's status callback",
            lease_expires_at=timezone.now()
            + timedelta(seconds=settings.AGENTFIELD_AGENT_CALL_TIMEOUT),
        )
        return None
    if (
        outcome.kind == "retryable"
        and execution.attempts <= settings.AGENTFIELD_DISPATCH_MAX_RETRIES
    ):
        mine.update(
            status=Status.QUEUED,
            claimed_by="",
            enqueued_at=timezone.now(),
            status_reason=f"retry {execution.attempts}: {outcome.error}"[:300],
        )
        return settings.AGENTFIELD_DISPATCH_RETRY_BASE * 2 ** (execution.attempts - 1)
    status, category = FINAL_OUTCOMES[outcome.kind]
    execution_finish_claimed(
        execution,
        claimed_by=me,
        status=status,
        result=outcome.result,
        error_message=outcome.error,
        error_category=category,
    )
    return None


def _holder_is_dead(claimed_by: str) -> bool:
    """True when the claiming worker process ran on this host and no longer runs.

    A SIGKILLed pool process can linger as a zombie until it is reaped; that counts as dead.
    """
    host, _, pid = claimed_by.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def _settle_stale(execution: Execution, now) -> str | None:
    """Finish one running execution that nobody will finish; the counter it adds to."""
    if execution.awaiting_callback:  # only here once its lease ran out
        finished = execution_finish(
            execution.execution_id,
            status=Status.TIMEOUT,
            error_category="timeout",
            error_message="the agent did not report a result in time",
        )
        return "timeout" if finished else None
    expired = execution.lease_expires_at is not None and execution.lease_expires_at < now
    if not (expired or _holder_is_dead(execution.claimed_by)):
        return None
    finished = execution_finish(
        execution.execution_id,
        status=Status.FAILED,
        error_category="worker_lost",
        error_message=WORKER_LOST_MESSAGE,
        only_if_claimed_by=execution.claimed_by,
    )
    return "worker_lost" if finished else None


def executions_recover(
    *, execution_ids: list[str] | None = None, requeue_grace: timedelta = QUEUED_GRACE
) -> dict[str, int]:
    """Finish calls whose worker died or whose lease ran out; re-enqueue stale queued ones."""
    now = timezone.now()
    running = Execution.objects.filter(status=Status.RUNNING)
    queued = Execution.objects.filter(status=Status.QUEUED, enqueued_at__lt=now - requeue_grace)
    if execution_ids is not None:
        running = running.filter(execution_id__in=execution_ids)
        queued = queued.filter(execution_id__in=execution_ids)
    counts = {"worker_lost": 0, "timeout": 0, "requeued": 0}
    stale = running.filter(Q(lease_expires_at__lt=now) | Q(awaiting_callback=False))
    for execution in stale.only(
        "execution_id", "claimed_by", "awaiting_callback", "lease_expires_at"
    ):
        outcome = _settle_stale(execution, now)
        if outcome:
            counts[outcome] += 1
    for execution_id in queued.values_list("execution_id", flat=True)[:10_000]:
        if Execution.objects.filter(execution_id=execution_id, status=Status.QUEUED).update(
            enqueued_at=now
        ):
            enqueue_dispatch_on_commit(execution_id)
            counts["requeued"] += 1
    if any(counts.values()):
        log.warning("recovered executions: %s", counts)
    return counts
