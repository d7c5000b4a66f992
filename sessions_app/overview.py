"""The overview page's content: what to do next, as steps that follow the real state, and
the live status, all read for one principal (None: an anonymous visitor, who sees only
the sign-in step)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.shortcuts import resolve_url
from django.urls import reverse
from django.utils.http import urlencode

from access_app.models import Target
from access_app.principals import Principal
from access_app.selectors import PendingApprovals, node_is_online, pending_approvals_for
from sessions_app import selectors
from sessions_app.models import SessionInstance

DONE, TODO, WAITING = "done", "todo", "waiting"
CALL_LINKS = 6  # voice pages linked from the "make a call" step at most


@dataclass(frozen=True)
class Link:
    label: str
    url: str


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    state: str  # done, todo (yours to do now) or waiting (on someone else)
    text: str
    links: tuple[Link, ...] = ()


@dataclass(frozen=True)
class NodeRow:
    node_id: str
    online: bool
    status: str  # the registry's status; shown to admins only
    last_heartbeat: object = None


@dataclass
class Overview:
    steps: list[Step]
    signed_in: bool = False
    is_admin: bool = False
    nodes: list[NodeRow] = field(default_factory=list)
    pending: PendingApprovals | None = None
    recent: list[SessionInstance] = field(default_factory=list)

    @property
    def nodes_online(self) -> int:
        return sum(node.online for node in self.nodes)


def overview_for(principal: Principal | None) -> Overview:
    if principal is None:
        login = f"{resolve_url(settings.LOGIN_URL)}?{urlencode({'next': reverse('overview')})}"
        sign_in = Step(
            "sign-in",
            "Sign in",
            TODO,
            "Sign in to start calls, replay them and, as an admin, approve agent nodes.",
            (Link("Sign in", login),),
        )
        return Overview(steps=[sign_in])
    startable = selectors.session_targets_startable_by(principal)
    pending = pending_approvals_for(principal)
    recent = selectors.sessions_started_by(principal)
    nodes = [
        NodeRow(node.node_id, node_is_online(node), node.status, node.last_heartbeat)
        for node in selectors.status_nodes_for(principal, startable)
    ]
    steps = [
        Step("sign-in", "Sign in", DONE, f"Signed in as {principal.name or principal.id}."),
        _approve_step(principal, pending, startable, nodes),
        _call_step(principal, startable, recent),
    ]
    return Overview(
        steps=steps,
        signed_in=True,
        is_admin=principal.is_admin,
        nodes=nodes,
        pending=pending,
        recent=recent,
    )


def _approve_step(
    principal: Principal,
    pending: PendingApprovals | None,
    startable: list[Target],
    nodes: list[NodeRow],
) -> Step:
    title = "Approve the agent nodes' tags"
    if pending is None:  # not an admin: an admin decides
        if startable:
            return Step("approve", title, DONE, "An admin has opened session targets to you.")
        tags = ", ".join(principal.tags) or "none"
        return Step(
            "approve",
            title,
            WAITING,
            "Waiting for an admin: a session target opens to you once an admin approves its "
            f"tags and an access policy lets your tags ({tags}) start it.",
        )
    approvals = (Link("Review on Approvals", reverse("approvals")),)
    if pending.targets:
        what = f"{_count(pending.tags, 'tag')} on " if pending.tags else ""
        verb = "waits" if (pending.tags or pending.targets) == 1 else "wait"
        text = f"{what}{_count(pending.targets, 'target')} {verb} for your decision."
        return Step("approve", title, TODO, text, approvals)
    if not nodes:
        return Step(
            "approve",
            title,
            WAITING,
            "No agent node has registered yet: start one (make run starts the demo's) and "
            "its tags appear on Approvals.",
        )
    return Step("approve", title, DONE, "Nothing is waiting for a decision.", approvals)


def _call_step(principal: Principal, startable: list[Target], recent: list) -> Step:
    title = "Make a call"
    if not startable:
        waiting_on = "an approved session target" if principal.is_admin else "an admin"
        return Step(
            "call",
            title,
            WAITING,
            f"No session target is open to you yet: waiting for {waiting_on}.",
        )
    links = tuple(
        Link(target.full_name, reverse("voice-page", args=[target.full_name]))
        for target in startable[:CALL_LINKS]
    )
    if len(startable) > CALL_LINKS:
        links += (Link(f"all {len(startable)} targets", reverse("sessions")),)
    if recent:
        return Step("call", title, DONE, "You have made a call; make another:", links)
    return Step("call", title, TODO, "Open a voice page and press Start:", links)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
