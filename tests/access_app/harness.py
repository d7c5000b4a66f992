"""What several access tests share: the registration route, an admin caller double, and
a registered node."""

from __future__ import annotations

from tests.factories import node_body

REGISTER = "/api/v1/nodes/register"
NODE = "voice-support-af"


class AdminCaller:
    """A caller that ``access_check`` treats as an admin: it passes every policy."""

    tags: tuple[str, ...] = ()
    is_admin = True


def register(caller, body):
    return caller.client().post(REGISTER, body, format="json")


def register_with_lookup_skill(admin) -> None:
    """The default node, plus a skill ``lookup_order`` tagged ``orders``, registered."""
    body = node_body(skills=[{"id": "lookup_order", "tags": ["orders"]}])
    assert register(admin, body).status_code == 201
