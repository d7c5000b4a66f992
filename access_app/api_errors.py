"""One error body for every API route: ``{"error": <code>, "message": <text>}``.

Upstream's routes set their own bodies in the view; this handler shapes what DRF raises.
"""

from __future__ import annotations

from django.db import OperationalError
from psycopg_pool import PoolTimeout
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

UNAUTHORIZED_BODY = {
    "error": "unauthorized",
    "message": (
        "invalid or missing API key. Provide via X-API-Key header or Authorization: Bearer <token>"
    ),
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
    code = getattr(exc, "default_code", "error")
    if isinstance(exc, exceptions.PermissionDenied):
        code = "forbidden"
    message = _first_message(getattr(exc, "detail", str(exc)))
    response.data = {"error": code, "message": message}
    return response


def error_response(status_code: int, error: str, message: str | None = None, **extra) -> Response:
    body: dict[str, object] = {"error": error}
    if message is not None:
        body["message"] = message
    body.update(extra)
    return Response(body, status=status_code)
