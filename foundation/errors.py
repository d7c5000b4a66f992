"""One API error and the one handler that renders it, with every other failure DRF raises,
as ``{"error": <code>, "message": <text>, ...}``.

Services raise ``ApiError`` with the exact body a route answers (upstream's bodies
byte for byte, some of which carry no ``message``); views never catch it.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from psycopg_pool import PoolTimeout
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

API_PREFIX = "/api/"


class ApiError(exceptions.APIException):
    """A refusal with its status and body: ``{"error": error, "message": message, **extra}``
    (``message`` left out when None, as upstream's bodies do)."""

    def __init__(
        self,
        status: int,
        /,  # so a body may carry a "status" field of its own (``**extra``)
        error: str,
        message: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        **extra: object,
    ) -> None:
        super().__init__(detail=message if message is not None else error, code=error)
        self.status_code = status
        self.error = error
        self.message = message
        self.extra = extra
        self.headers = headers

    @property
    def body(self) -> dict[str, object]:
        body: dict[str, object] = {"error": self.error}
        if self.message is not None:
            body["message"] = self.message
        body.update(self.extra)
        return body

    def __repr__(self) -> str:
        return f"ApiError({self.status_code}, {self.body!r})"


UNAUTHORIZED_BODY = {
    "error": "unauthorized",
    "message": (
        "invalid or missing API key. Provide via X-API-Key header or Authorization: Bearer <token>"
    ),
}


def request_too_large_body() -> dict[str, object]:
    limit = settings.AGENTFIELD_MAX_REQUEST_BYTES
    return {
        "error": "request_too_large",
        "message": f"the request body may be at most {limit} bytes",
        "limit": limit,
    }


def _database_overloaded(exc: Exception) -> bool:
    """The psycopg pool stayed exhausted, or SQLite's write lock stayed held, past its
    timeout. SQLite says so only in its message."""
    return isinstance(exc, OperationalError) and (
        isinstance(exc.__cause__, PoolTimeout) or "database is locked" in str(exc)
    )


def _first_message(detail) -> str:
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    if isinstance(detail, dict) and detail:
        field, inner = next(iter(detail.items()))
        text = _first_message(inner)
        return text if field == "non_field_errors" else f"{field}: {text}"
    return str(detail)


def exception_handler(exc, context):
    if isinstance(exc, ApiError):
        return Response(exc.body, status=exc.status_code, headers=exc.headers)
    if isinstance(exc, RequestDataTooBig):
        # A body without a Content-Length the guard could check, read past the limit.
        return Response(request_too_large_body(), status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if _database_overloaded(exc):
        # The database stayed busy for its whole timeout: overload, not a bug; say when to retry.
        return Response(
            {"error": "overloaded", "message": "the control plane is busy; retry shortly"},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "1"},
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        response.data = dict(UNAUTHORIZED_BODY)
        response.status_code = status.HTTP_401_UNAUTHORIZED
        return response
    if isinstance(exc, exceptions.ValidationError):
        response.data = {
            "error": "invalid_request",
            "message": _first_message(exc.detail),
            "fields": exc.detail if isinstance(exc.detail, dict) else {},
        }
        return response
    if isinstance(exc, exceptions.Throttled):
        response.data = {
            "error": "rate_limited",
            "message": f"too many requests; retry in {exc.wait:.0f} s",
            "retry_after": int(exc.wait),
        }
        return response
    code = getattr(exc, "default_code", "error")
    if isinstance(exc, exceptions.PermissionDenied):
        code = "forbidden"
    message = _first_message(getattr(exc, "detail", str(exc)))
    response.data = {"error": code, "message": message}
    return response


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """``handler404``: JSON under ``/api/`` (an unknown route), Django's page elsewhere."""
    if _is_api(request):
        return JsonResponse(
            {"error": "not_found", "message": f"no route {request.method} {request.path}"},
            status=404,
        )
    return defaults.page_not_found(request, exception)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """``handler400`` (Django's SuspiciousOperation and friends): JSON under ``/api/``."""
    if _is_api(request):
        body = {"error": "bad_request", "message": "the request is malformed"}
        return JsonResponse(body, status=400)
    return defaults.bad_request(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: still a bug, but an API client gets our error shape, not HTML."""
    if _is_api(request):
        return JsonResponse(
            {"error": "internal_error", "message": "the control plane failed; this is a bug"},
            status=500,
        )
    return defaults.server_error(request)
