"""One incoming WebSocket message, checked the same way for every consumer.

Text only, at most ``AGENTFIELD_MAX_WS_MESSAGE_BYTES``, and JSON the REST routes would
also accept (no NUL characters, bounded nesting). A refused message is answered with an
``error`` event by the consumer; the connection stays open.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from access_app.parsers import UntrustedJSONError, loads_untrusted


class FrameRefused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def frame_json(text_data: str | None, bytes_data: bytes | None) -> Any:
    """The message's JSON value, or :class:`FrameRefused` with a code and a reason."""
    if text_data is None:
        raise FrameRefused("invalid_event", "events must be JSON text frames, not binary")
    limit = settings.AGENTFIELD_MAX_WS_MESSAGE_BYTES
    if len(text_data) > limit or len(text_data.encode()) > limit:
        raise FrameRefused("frame_too_large", f"a message may be at most {limit} bytes")
    try:
        return loads_untrusted(text_data)
    except UntrustedJSONError as exc:
        raise FrameRefused("invalid_json", f"the frame is not acceptable JSON: {exc}") from None
