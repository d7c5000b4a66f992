"""``realtime-offer`` for a session with ``media: direct``: the caller's media goes to the
provider, the control plane keeps the call's sideband (decision 0030).

The provider's own peer answers the browser's offer; the process that answers the offer
holds the sideband and the ``SessionRuntime`` until the call ends, whoever ends it (the
``end`` route, the handler, expiry, the provider hanging up, a lost sideband): the runtime
closes the adapter, which hangs the call up at the provider. No audio passes through this
process, so the call's events reach the browser over the session's event stream
(``event_stream``), not a data channel of ours.
"""

from __future__ import annotations

import asyncio
import logging

from channels.db import database_sync_to_async

from sessions_app.models import SessionInstance, SessionStatus
from sessions_app.providers import direct_adapter_for
from sessions_app.providers.base import (
    DirectMediaAdapter,
    PlaybackStarted,
    PlaybackStopped,
    ProviderEvent,
    ProviderUnavailable,
)
from sessions_app.runtime.session import SessionRuntime
from sessions_app.runtime.sink import Notice
from sessions_app.services.direct_calls import PROVIDER_CALL_EVENT
from sessions_app.services.events import session_event_append
from sessions_app.services.lifecycle import session_connect, session_finish, session_gone_error
from sessions_app.transports.event_stream import stream_publish_soon
from sessions_app.transports.webrtc_events import channel_event
from sessions_app.transports.webrtc_offer import provider_failure

log = logging.getLogger(__name__)

_connect = database_sync_to_async(session_connect)
_finish = database_sync_to_async(session_finish)
_append = database_sync_to_async(session_event_append)


class DirectCall:
    """The runtime's sink for a direct-media call: events go to the session's stream, and
    "has the caller heard it all" is the provider's playback state."""

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self.runtime: SessionRuntime | None = None
        self._claimed: SessionInstance | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    async def answer(self, session: SessionInstance, sdp: str) -> str:
        """The provider's answer SDP for the browser's (checked) offer; the call runs on."""
        self._claimed = session = await _connect(session)
        try:
            adapter: DirectMediaAdapter = direct_adapter_for(session.provider, sdp)
        except ProviderUnavailable as exc:
            await self.abandon(f"provider unavailable: {exc}")
            raise provider_failure(exc) from None
        self.runtime = runtime = SessionRuntime(session, adapter, sink=self)
        if not await runtime.start():  # the runtime has ended the session and released us
            if runtime.start_error is not None:
                raise provider_failure(runtime.start_error)
            raise session_gone_error(self.session_id, runtime.session.status)
        await _append(session, PROVIDER_CALL_EVENT, {"media": "direct", "call_id": adapter.call_id})
        return adapter.answer_sdp

    async def abandon(self, reason: str = "the offer was abandoned") -> None:
        """The offer will not be answered: fail what was claimed, hang up what was made."""
        if self.runtime is not None:
            await self.runtime.end(SessionStatus.FAILED, reason)
        elif self._claimed is not None:
            await _finish(self._claimed, status=SessionStatus.FAILED, reason=reason)

    # --- RuntimeSink ---------------------------------------------------------------------

    async def deliver(self, event: ProviderEvent | Notice) -> None:
        if isinstance(event, PlaybackStarted):
            self._idle.clear()
        elif isinstance(event, PlaybackStopped):
            self._idle.set()
        message = channel_event(event)
        if message is not None:
            stream_publish_soon(self.session_id, message)

    async def flush_playback(self) -> None:
        """The provider drops its own playback on a cancel (``adapter.cancel``)."""

    async def playback_drained(self) -> None:
        """Until the provider says its playback stopped (the handler bridge bounds the wait)."""
        await self._idle.wait()

    async def release(self, status: str, reason: str) -> None:
        """The adapter has hung up; nothing of ours holds media."""
        self._idle.set()
