"""OpenAI Realtime (GA), over WebSocket or a WebRTC call's sideband: the only code that
knows its wire protocol.

- ``adapter``: the connection (``OpenAIRealtimeAdapter``): open, read, send, close;
- ``wire``: OpenAI client and server events <-> the neutral commands and events of ``base``;
- ``sequencer``: ``ResponseSequencer``, one response at a time;
- ``call``: ``OpenAIRealtimeCallAdapter``, a WebRTC call with direct media and its sideband.
"""

from .adapter import (
    MISSING_KEY,
    OpenAIRealtimeAdapter,
    adapter_from_settings,
    derive_base_urls,
    settings_options,
)
from .call import OpenAIRealtimeCallAdapter, call_hang_up
from .sequencer import ResponseSequencer
from .wire import DEFAULT_INSTRUCTIONS, SAY_PREFIX, session_payload


def call_adapter_from_settings(offer_sdp: str) -> OpenAIRealtimeCallAdapter:
    return OpenAIRealtimeCallAdapter(offer_sdp=offer_sdp, **settings_options())


def call_hang_up_from_settings(call_id: str) -> bool:
    return call_hang_up(call_id, **settings_options())


__all__ = [
    "DEFAULT_INSTRUCTIONS",
    "MISSING_KEY",
    "SAY_PREFIX",
    "OpenAIRealtimeAdapter",
    "OpenAIRealtimeCallAdapter",
    "ResponseSequencer",
    "adapter_from_settings",
    "call_adapter_from_settings",
    "call_hang_up_from_settings",
    "derive_base_urls",
    "session_payload",
]
