"""The Redis channel layer (channels_redis's pub/sub layer), waiting longer between reads.

channels_redis reads each shard's subscriptions with ``get_message(timeout=0.1)`` in a
loop: ten wakeups a second in every process that has anything subscribed (every live call
does). With one direct-media call that was 0.135 of its 0.315 CPU-seconds per call-minute
(``bench/media.py --media direct``). A published message still arrives at once: the
timeout only bounds a wait in which nothing arrives. Waiting 1 s between empty reads costs
nothing else: subscribing and unsubscribing go out on the connection while a read waits,
as they already did during the 0.1 s waits. Decision 0030.
"""

from __future__ import annotations

import asyncio
import logging

from channels_redis.pubsub import (
    RedisPubSubChannelLayer,
    RedisPubSubLoopLayer,
    RedisSingleShardConnection,
)

log = logging.getLogger(__name__)

EMPTY_READ_WAIT_S = 1.0  # how long one read waits for a message before it reads again
UNSUBSCRIBED_PAUSE_S = 0.1  # nothing subscribed: look again soon (cheap: no read)
FAILED_READ_PAUSE_S = 1.0


class _PatientShard(RedisSingleShardConnection):
    async def _do_receiving(self) -> None:
        while True:
            try:
                pubsub = self._pubsub
                if pubsub is None or not pubsub.subscribed:
                    await asyncio.sleep(UNSUBSCRIBED_PAUSE_S)
                    continue
                message = await pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=EMPTY_READ_WAIT_S
                )
                self._receive_message(message)
            except (asyncio.CancelledError, TimeoutError, GeneratorExit):
                raise
            except Exception:
                log.exception("the channel layer's Redis reader failed; it reads on")
                await asyncio.sleep(FAILED_READ_PAUSE_S)


class PatientRedisPubSubChannelLayer(RedisPubSubChannelLayer):
    """``RedisPubSubChannelLayer`` whose shards wait ``EMPTY_READ_WAIT_S`` per empty read."""

    def _get_layer(self) -> RedisPubSubLoopLayer:
        layer = super()._get_layer()
        shards = layer._shards
        if shards and not isinstance(shards[0], _PatientShard):  # once, before any use
            layer._shards = [_PatientShard(shard.host, layer) for shard in shards]
        return layer
