"""What ``make run`` sets up for a newcomer: a fresh admin login and API key, a demo caller
(a login and an API key, tagged ``customer``) with the policy that lets it start the demo's
voice sessions, and the voice support example (``examples/voice_support/agent.py``) with a
fresh agent key per node and the access policy that lets its voice session call ``support``
tools."""

from __future__ import annotations

import os
import re
import secrets
import sys
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model

from access_app.models import AccessPolicy, ApiKey, CallerProfile, Role
from access_app.services.api_keys import api_key_create, api_key_revoke
from devtools.processes import Child

EXAMPLE = settings.BASE_DIR / "examples" / "voice_support" / "agent.py"
VOICE_NODE, SUPPORT_NODE = "voice-support-af", "support"
# The voice session's tags may call the support node's tools (its handler's session.call is
# a tool call of the session: the session's approved tags are the caller tags).
DEMO_POLICY = {
    "name": "demo: voice sessions call support tools",
    "caller_tags": ["support:voice"],
    "target_tags": ["support"],
    "action": "allow",
    "description": "Created by make run for examples/voice_support.",
}

# The demo caller: its tags, and the policy that lets them start the example's sessions
# (tagged support:voice in examples/voice_support/agent.py) once an admin approved them.
CALLER_USER, CALLER_TAGS = "caller", ["customer"]
CALLER_POLICY = {
    "name": "demo: customers start voice support sessions",
    "caller_tags": CALLER_TAGS,
    "target_tags": ["support:voice"],
    "action": "allow",
    "description": "Created by make run: the demo caller (tag customer) may start the "
    "voice support example's sessions.",
}


def fresh_admin_login() -> str:
    """The ``admin`` superuser's new password (the user is created on first run)."""
    password = secrets.token_urlsafe(12)
    user, _ = get_user_model().objects.get_or_create(
        username="admin", defaults={"is_staff": True, "is_superuser": True}
    )
    user.is_staff = user.is_superuser = user.is_active = True
    user.set_password(password)
    user.save()
    return password


def fresh_admin_api_key() -> str:
    _, secret = api_key_create(
        name=f"make-run {time.strftime('%Y-%m-%d %H:%M:%S')}", role=Role.ADMIN
    )
    return secret


def fresh_caller_login() -> str:
    """The demo caller's new password: a plain user (no staff, no superuser) whose caller
    profile carries ``CALLER_TAGS``, and the policy that lets those tags start the demo."""
    password = secrets.token_urlsafe(12)
    user, _ = get_user_model().objects.get_or_create(username=CALLER_USER)
    user.is_staff = user.is_superuser = False
    user.is_active = True
    user.set_password(password)
    user.save()
    CallerProfile.objects.update_or_create(user=user, defaults={"tags": CALLER_TAGS})
    AccessPolicy.objects.get_or_create(name=CALLER_POLICY["name"], defaults=CALLER_POLICY)
    return password


def fresh_caller_api_key() -> str:
    """A caller key with the demo caller's tags; the previous make-run caller key is revoked."""
    name = "make-run caller"
    for old in ApiKey.objects.filter(name=name, revoked_at__isnull=True):
        api_key_revoke(key=old)
    _, secret = api_key_create(name=name, role=Role.CALLER, tags=CALLER_TAGS)
    return secret


def demo_node_key(node_id: str, tags: list[str]) -> str:
    """A fresh agent key bound to ``node_id``; the previous make-run key of it is revoked."""
    name = f"make-run {node_id}"
    for old in ApiKey.objects.filter(name=name, revoked_at__isnull=True):
        api_key_revoke(key=old)
    _, secret = api_key_create(name=name, role=Role.AGENT, tags=tags, node_id=node_id)
    return secret


# The example's lines the terminal shows besides warnings: when it is ready, approved, stopping.
DEMO_SHOWN = re.compile(
    r"\b(WARNING|ERROR|CRITICAL|Traceback)\b| is ready$|tags approved|stopping "
)


def demo_child(server: str, log_path: Path | None = None) -> Child:
    """The example's process (not essential: when it exits, the stack keeps running)."""
    AccessPolicy.objects.get_or_create(name=DEMO_POLICY["name"], defaults=DEMO_POLICY)
    env = dict(
        os.environ,
        AGENTFIELD_SERVER=server,
        AGENTFIELD_API_KEY=demo_node_key(VOICE_NODE, []),
        SUPPORT_AGENTFIELD_API_KEY=demo_node_key(SUPPORT_NODE, []),
        PYTHONUNBUFFERED="1",
    )
    argv = [sys.executable, str(EXAMPLE)]
    return Child(
        "voice support example", argv, env, essential=False, log_path=log_path, shown=DEMO_SHOWN
    )
