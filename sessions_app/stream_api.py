"""``GET /api/v1/session-instances/<id>/events/stream``: the session's live events as
server-sent events (``sessions_app.transports.event_stream``; README).

Thin like every view: authentication and the scoped lookup as on the other instance
routes, then the stream, which waits on the event loop and holds no request thread.
"""

from __future__ import annotations

from adrf.views import APIView as AsyncAPIView
from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.negotiation import BaseContentNegotiation

from foundation.errors import ApiError
from sessions_app import api_docs as docs
from sessions_app.api import InstanceRoute
from sessions_app.transports.event_stream import event_stream_open, event_stream_response


class ErrorsAsJSON(BaseContentNegotiation):
    """An ``EventSource`` accepts only ``text/event-stream``; a refusal is still the API's
    JSON error body, not a 406."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class SessionEventStreamView(InstanceRoute, AsyncAPIView):
    content_negotiation_class = ErrorsAsJSON

    @extend_schema(
        responses={
            (200, "text/event-stream"): OpenApiTypes.STR,
            **docs.SESSION_NOT_FOUND,
            **docs.STREAM_ERRORS,
        },
        **docs.STREAM,
    )
    async def get(self, request, session_id: str):
        session = await sync_to_async(self.session_or_404)(session_id)
        if not isinstance(request._request, ASGIRequest):  # WSGI cannot wait on the loop
            raise ApiError(503, "unavailable", "the event stream is served under ASGI only")
        return event_stream_response(await event_stream_open(session))
