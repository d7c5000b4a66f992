"""The Redis channel layer with its longer empty reads (``foundation.channel_layer``):
nothing is lost or held back by a read that is waiting when a channel subscribes."""

from __future__ import annotations

import asyncio

import pytest
from channels.layers import get_channel_layer
from django.conf import settings

from foundation.channel_layer import _PatientShard

pytestmark = pytest.mark.skipif(not settings.REDIS_URL, reason="the embedded stack has no Redis")


async def test_a_channel_subscribed_while_the_reader_waits_gets_its_messages() -> None:
    layer = get_channel_layer()
    first = await layer.new_channel("layer-test.")
    await layer.send(first, {"type": "hello", "n": 1})
    assert (await asyncio.wait_for(layer.receive(first), 10))["n"] == 1
    await asyncio.sleep(0.3)  # the reader is inside an empty read now
    second = await layer.new_channel("layer-test.")
    await layer.group_add("layer-test-group", second)
    await layer.group_send("layer-test-group", {"type": "to.group"})
    await layer.send(first, {"type": "hello", "n": 2})
    assert (await asyncio.wait_for(layer.receive(second), 10))["type"] == "to.group"
    assert (await asyncio.wait_for(layer.receive(first), 10))["n"] == 2
    shards = layer._get_layer()._shards
    assert shards and all(isinstance(shard, _PatientShard) for shard in shards)
    await layer.group_discard("layer-test-group", second)
    await layer.flush()
