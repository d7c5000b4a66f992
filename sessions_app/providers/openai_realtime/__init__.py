"""OpenAI Realtime (GA) over WebSocket: the only code that knows its wire protocol.

- ``adapter``: the connection (``OpenAIRealtimeAdapter``): open, read, send, close;
- ``wire``: OpenAI client and server events <-> the neutral commands and events of ``base``;
- ``sequencer``: ``ResponseSequencer``, one response at a time.
"""

from .adapter import MISSING_KEY, OpenAIRealtimeAdapter, adapter_from_settings, derive_base_urls
from .sequencer import ResponseSequencer
from .wire import DEFAULT_INSTRUCTIONS, SAY_PREFIX, session_payload

__all__ = [
    "DEFAULT_INSTRUCTIONS",
    "MISSING_KEY",
    "SAY_PREFIX",
    "OpenAIRealtimeAdapter",
    "ResponseSequencer",
    "adapter_from_settings",
    "derive_base_urls",
    "session_payload",
]
