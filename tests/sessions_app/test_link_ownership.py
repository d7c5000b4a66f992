"""The agent link follows the node's owner (decision 0015): a key that lost the node id
hears and says nothing more on a link it opened before."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from tests.factories import node_body, session_def
from tests.sessions_app.link_client import open_link

pytestmark = pytest.mark.django_db(transaction=True)

NODE = "voice-support-af"


def register(caller):
    body = node_body(
        NODE, reasoners=[], sessions=[session_def(transport="websocket", handler=True)]
    )
    return caller.client().post("/api/v1/nodes/register", body, format="json").status_code


async def test_a_squatters_open_link_closes_once_the_real_node_takes_its_id(make_caller):
    squatter = await database_sync_to_async(make_caller)("agent", name="squatter")
    assert await database_sync_to_async(register)(squatter) == 201
    link = await open_link(squatter.secret)
    assert (await link.receive_json_from())["type"] == "link.ready"

    real = await database_sync_to_async(make_caller)("agent", node_id=NODE, name="real")
    assert await database_sync_to_async(register)(real) == 201
    await link.send_json_to({"type": "session.say", "session_id": "sess_x", "text": "hi"})
    refused = await link.receive_json_from()
    assert refused == {
        "type": "error",
        "code": "forbidden",
        "message": f"this key may no longer act as node {NODE}",
    }
    assert (await link.receive_output())["code"] == 4403

    again = await open_link(squatter.secret)
    assert (await again.receive_json_from())["code"] == "forbidden"
    assert (await again.receive_output())["code"] == 4403


async def test_a_squatters_silent_link_is_closed_when_the_real_node_registers(make_caller):
    """No message from the squatter needed: the superseding registration tells its link."""
    squatter = await database_sync_to_async(make_caller)("agent", name="squatter")
    assert await database_sync_to_async(register)(squatter) == 201
    link = await open_link(squatter.secret)
    assert (await link.receive_json_from())["type"] == "link.ready"

    real = await database_sync_to_async(make_caller)("agent", node_id=NODE, name="real")
    assert await database_sync_to_async(register)(real) == 201
    refused = await link.receive_json_from(timeout=5)
    assert (refused["code"], refused["message"]) == (
        "forbidden",
        f"this key may no longer act as node {NODE}",
    )
    assert (await link.receive_output(timeout=5))["code"] == 4403
