"""Requests no API view could answer well are refused before routing, in our error shape.

- A body over ``AGENTFIELD_MAX_REQUEST_BYTES`` (by its ``Content-Length``): 413. Under
  ASGI this is answered before the body is read at all (``asgi_body_limit``); Django's
  handler would otherwise spool the whole body to disk first.
- A URL path with a NUL character (``%00``), which no id can contain and PostgreSQL
  cannot compare: 400.
"""

from __future__ import annotations

import json

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from access_app.api_errors import request_too_large_body

API_PREFIX = "/api/"


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


def asgi_body_limit(app):
    """ASGI wrapper: a declared body over the limit gets its 413 before a byte is read."""

    async def guarded(scope, receive, send):
        if scope["type"] == "http" and scope["path"].startswith(API_PREFIX):
            length = dict(scope.get("headers") or []).get(b"content-length", b"")
            if length.isdigit() and int(length) > settings.AGENTFIELD_MAX_REQUEST_BYTES:
                body = json.dumps(request_too_large_body()).encode()
                headers = [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ]
                await send({"type": "http.response.start", "status": 413, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await app(scope, receive, send)

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
