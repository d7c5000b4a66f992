"""A WebRTC call with direct media: the caller's audio goes to OpenAI, we keep the sideband.

``open`` posts the caller's SDP offer with the whole session configuration to
``/v1/realtime/calls`` (the unified interface: the API key stays on the server), keeps the
answer SDP and the call id from ``Location``, then attaches to the call over the sideband
(``/v1/realtime?call_id=...``), where the events are those of the WebSocket session without
audio. Leaving hangs the call up at OpenAI, whoever ends it, a lost sideband included.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from openai import APIConnectionError, APIStatusError, APITimeoutError, OpenAI, OpenAIError
from websockets.exceptions import ConnectionClosed

from sessions_app.providers.base import ProviderClosed, ProviderConfig, ProviderUnavailable

from . import wire
from .adapter import CLOSE_TIMEOUT_S, OpenAIRealtimeAdapter, derive_base_urls

if TYPE_CHECKING:
    from openai.resources.realtime.realtime import AsyncRealtimeConnection

log = logging.getLogger(__name__)

CREATE_TIMEOUT_S = 10.0  # for OpenAI's answer to the offer
HANGUP_TIMEOUT_S = 5.0
NORMAL_CLOSURE = 1000


def call_id_from_location(location: str) -> str:
    """The last path segment of ``Location: /v1/realtime/calls/<call_id>``, else ``""``."""
    segment = location.rstrip("/").rpartition("/")[2]
    return segment if segment.startswith("rtc_") and len(segment) <= 200 else ""


class OpenAIRealtimeCallAdapter(OpenAIRealtimeAdapter):
    """One direct-media WebRTC call (``DirectMediaAdapter``); made with the caller's offer."""

    def __init__(self, *, offer_sdp: str, **options: Any) -> None:
        super().__init__(**options)
        self._offer_sdp = offer_sdp
        self.answer_sdp = ""
        self.call_id = ""
        self._hung_up = False

    def _session_update(self, config: ProviderConfig) -> dict[str, Any]:
        return wire.session_update(config, audio_formats=False)

    async def _connect(self, config: ProviderConfig) -> AsyncRealtimeConnection:
        self._client = self._new_client()
        try:
            await self._create_call(config)
            manager = self._client.realtime.connect(
                call_id=self.call_id,
                extra_headers=self._identity_headers(config),
                websocket_connection_options={"close_timeout": CLOSE_TIMEOUT_S},
            )
            self._conn = await manager.enter()
        except ProviderUnavailable:
            await self._release()
            raise
        except Exception as exc:
            await self._release()
            raise self._connect_failure(exc) from None
        return self._conn

    async def _create_call(self, config: ProviderConfig) -> None:
        """The call at OpenAI: never retried (a retry could create a second call)."""
        calls = self._client.with_options(max_retries=0).realtime.calls.with_raw_response
        try:
            response = await calls.create(
                sdp=self._offer_sdp,
                session=wire.session_payload(config, audio_formats=False),
                extra_headers=self._identity_headers(config),
                timeout=CREATE_TIMEOUT_S,
            )
        except APIStatusError as exc:
            detail = self._scrub(exc.response.text.strip() or str(exc))[:300]
            message = self._failure("call creation failed", f"HTTP {exc.status_code}")
            raise ProviderUnavailable(message, code=exc.status_code, detail=detail) from None
        except APITimeoutError:
            message = "OpenAI realtime call creation timed out"
            raise ProviderUnavailable(message, code="timeout") from None
        except APIConnectionError as exc:
            message = self._failure("call creation failed", exc)
            raise ProviderUnavailable(message, code="connect") from None
        self.answer_sdp = response.text
        self.call_id = call_id_from_location(response.headers.get("location", ""))
        if not self.call_id or not self.answer_sdp.strip():
            raise ProviderUnavailable(
                "OpenAI realtime answered the call without an SDP answer or a call id",
                code="bad_answer",
            )

    def _closed(self, exc: BaseException) -> ProviderClosed:
        """A sideband closed in good order means the call is over at OpenAI; anything else
        is a lost sideband (and ``_release`` hangs the call up)."""
        frame = exc.rcvd if isinstance(exc, ConnectionClosed) else None
        if frame is not None and frame.code == NORMAL_CLOSURE:
            self._hung_up = True
            said = self._scrub(frame.reason)[:120]
            reason = f"the call ended at the provider: {said}" if said else "the call ended"
            return ProviderClosed(reason=reason, hung_up=True)
        return super()._closed(exc)

    async def cancel(self) -> None:
        """Barge-in: stop the response, then the provider's playback of it."""
        await super().cancel()
        await self._send(wire.playback_clear())

    async def send_audio(self, pcm: bytes) -> None:
        """The caller's audio reaches OpenAI on its own peer, never through us."""

    async def _release(self) -> None:
        client, call_id = self._client, self.call_id
        if client is not None and call_id and not self._hung_up:
            self._hung_up = True
            try:
                await client.realtime.calls.hangup(call_id, timeout=HANGUP_TIMEOUT_S)
            except Exception as exc:  # gone already, or OpenAI unreachable: nothing to keep
                log.info("hanging up OpenAI call %s failed: %s", call_id, type(exc).__name__)
        await super()._release()


def call_hang_up(call_id: str, *, api_key: str, base_url: str = "") -> bool:
    """Hang a call up from code that holds no sideband (the sweep, for a call whose process
    died). False when OpenAI does not know the call (gone already) or cannot be reached."""
    rest_url, _ = derive_base_urls(base_url)
    try:
        with OpenAI(api_key=api_key, base_url=rest_url, max_retries=1) as client:
            client.realtime.calls.hangup(call_id, timeout=HANGUP_TIMEOUT_S)
    except OpenAIError as exc:
        log.info("hanging up OpenAI call %s failed: %s", call_id, type(exc).__name__)
        return False
    return True
