"""Requests no API view could answer well are refused before routing, in our error shape.

- A body over ``AGENTFIELD_MAX_REQUEST_BYTES``: 413. Under ASGI (``asgi_body_limit``) a
  declared ``Content-Length`` over it is answered before the body is read at all, and a
  body without one (``Transfer-Encoding: chunked``) is counted as its chunks reach Django,
  which is refused the moment it passes the limit; Django's handler would otherwise spool
  the whole body to disk first, before any authentication.
- A URL path with a NUL character (``%00``), which no id can contain and PostgreSQL
  cannot compare: 400.
"""

from __future__ import annotations

import json

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from foundation.errors import API_PREFIX, request_too_large_body


def _content_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def api_request_problem(request: HttpRequest) -> HttpResponse | None:
    """The error response for a request that must not reach a view, else None."""
    if not request.path.startswith(API_PREFIX):
        return None
    if _content_length(request) > settings.AGENTFIELD_MAX_REQUEST_BYTES:
        return JsonResponse(request_too_large_body(), status=413)
    if "\x00" in request.path:
        return JsonResponse(
            {"error": "invalid_request", "message": "the URL may not contain NUL characters"},
            status=400,
        )
    return None


async def _send_too_large(send) -> None:
    body = json.dumps(request_too_large_body()).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def asgi_body_limit(app):
    """ASGI wrapper: a declared body over the limit gets its 413 before a byte is read;
    any other body is counted chunk by chunk, and one that passes the limit gets its 413
    there, while Django is told the client left (it stops reading and answers nothing)."""

    async def guarded(scope, receive, send):
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        limit = settings.AGENTFIELD_MAX_REQUEST_BYTES
        if scope["path"].startswith(API_PREFIX):
            length = dict(scope.get("headers") or []).get(b"content-length", b"")
            if length.isdigit() and int(length) > limit:
                await _send_too_large(send)
                return
        received = 0
        refused = False

        async def counted_receive():
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body") or b"")
                if received > limit:
                    refused = True
                    await _send_too_large(send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message):
            if not refused:  # after a 413, the 413 was the answer
                await send(message)

        await app(scope, counted_receive, guarded_send)

    return guarded


class ApiRequestGuardMiddleware:
    """Sync and async, so it adds no thread hop under daphne."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest):
        if self.is_async:
            return self._acall(request)
        return api_request_problem(request) or self.get_response(request)

    async def _acall(self, request: HttpRequest):
        return api_request_problem(request) or await self.get_response(request)
