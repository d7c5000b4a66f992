"""The OpenAPI document tells the truth about errors too, and reads as documentation.

Every operation lists the error statuses it can answer, each with the one error body
(``{"error": ..., "message"?: ...}``, more fields allowed): the ones any route of its kind
can give are added here (with a description and an example body), and a view adds its own
with ``extend_schema(responses={..., **error(409, "why", name=body)})`` (or ``errors(...)``
for a bare status). ``operation(...)`` bundles a view's tag, summary, description and
examples, kept in the app's ``api_docs`` module.

Swagger UI renders descriptions as Markdown and drops what looks like an HTML tag: write a
placeholder such as ``<node_id>`` inside backticks, always.
"""

from __future__ import annotations

from collections.abc import Iterable
from http import HTTPStatus
from typing import Any

from django.conf import settings
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAuthenticated

from foundation.errors import UNAUTHORIZED_BODY
from foundation.serializers import StrictSerializer

BODY_METHODS = {"POST", "PUT", "PATCH"}


class ErrorBodySerializer(serializers.Serializer):
    error = serializers.CharField(
        help_text="our routes: a short code; upstream routes: the human message"
    )
    message = serializers.CharField(required=False, help_text="our routes: the human message")


def _title(name: str) -> str:
    return name.replace("_", " ").capitalize()


def example(
    name: str,
    value: Any,
    *,
    summary: str = "",
    status: int | None = None,
    request: bool = False,
    media_type: str | None = None,
) -> OpenApiExample:
    """A named example body: a request's (``request=True``) or a response's (``status``:
    the status it goes with; none means 200 and 201), JSON unless ``media_type`` says."""
    return OpenApiExample(
        _title(name),
        value=value,
        summary=summary,
        request_only=request,
        response_only=not request,
        status_codes=[str(status)] if status else None,
        media_type=media_type,
    )


def error_response(
    status: int, description: str = "", examples: dict[str, dict] | None = None
) -> OpenApiResponse:
    return OpenApiResponse(
        ErrorBodySerializer,
        description=description or HTTPStatus(status).phrase,
        examples=[example(name, body) for name, body in (examples or {}).items()],
    )


def errors(*statuses: int) -> dict[int, OpenApiResponse]:
    """``responses={201: Out, **errors(409, 410)}`` for statuses only this view answers."""
    return {status: error_response(status) for status in statuses}


def error(status: int, description: str, **examples: dict) -> dict[int, OpenApiResponse]:
    """One status a view answers, what it means, and its bodies by example name:
    ``responses={201: Out, **error(409, "Already exists.", exists={"error": ...})}``."""
    return {status: error_response(status, description, examples)}


def operation(
    *, tag: str, summary: str, description: str, examples: Iterable[OpenApiExample] = ()
) -> dict[str, Any]:
    """``extend_schema(..., **operation(...))``: the words of one operation. ``tag`` is one
    of ``SPECTACULAR_SETTINGS["TAGS"]``; ``description`` is Markdown, written indented in
    the source: each line loses its indentation (pieces joined with different indentation
    would otherwise turn into a code block), so it holds no indented block of its own."""
    return {
        "tags": [tag],
        "summary": summary,
        "description": "\n".join(line.strip() for line in description.strip().splitlines()),
        "examples": list(examples),
    }


def _common_errors() -> dict[int, tuple[str, dict[str, dict]]]:
    """What each common status means, with a body it carries (read when the schema is made,
    so the limits are the running ones)."""
    limit = settings.AGENTFIELD_MAX_REQUEST_BYTES
    return {
        400: (
            "The request is malformed: a field is missing or has the wrong type (the body "
            "names it), a parameter is out of range, or the URL holds a NUL.",
            {
                "invalid_field": {
                    "error": "invalid_request",
                    "message": "reason: Ensure this field has no more than 500 characters.",
                    "fields": {"reason": ["Ensure this field has no more than 500 characters."]},
                }
            },
        ),
        401: (
            "No credentials, or an API key (or client secret) that is unknown, revoked or expired.",
            {"unauthorized": dict(UNAUTHORIZED_BODY)},
        ),
        403: (
            "The credentials are valid but their role may not use this route.",
            {"wrong_role": {"error": "forbidden", "message": "this route requires role admin"}},
        ),
        404: (
            "Nothing has this id, or it belongs to another caller: both get the same answer.",
            {"not_found": {"error": "not_found", "message": "not found"}},
        ),
        413: (
            f"The body is larger than `AGENTFIELD_MAX_REQUEST_BYTES` ({limit} bytes).",
            {
                "too_large": {
                    "error": "request_too_large",
                    "message": f"the request body may be at most {limit} bytes",
                    "limit": limit,
                }
            },
        ),
        415: (
            "The body is not in a media type this route reads (JSON unless said otherwise).",
            {
                "unsupported": {
                    "error": "unsupported_media_type",
                    "message": 'Unsupported media type "text/plain" in request.',
                }
            },
        ),
        429: (
            "Too many requests from these credentials: retry after `retry_after` seconds "
            "(also in `Retry-After`).",
            {
                "rate_limited": {
                    "error": "rate_limited",
                    "message": "too many requests; retry in 12 s",
                    "retry_after": 12,
                }
            },
        ),
        503: (
            "The control plane is overloaded (its database stayed busy): retry shortly.",
            {
                "overloaded": {
                    "error": "overloaded",
                    "message": "the control plane is busy; retry shortly",
                }
            },
        ),
    }


def target_parameter(what: str) -> OpenApiParameter:
    """The ``<node>.<name>`` path parameter, with the shape the views check."""
    return OpenApiParameter(
        "target",
        OpenApiTypes.STR,
        OpenApiParameter.PATH,
        description=f"`<node_id>.<{what}>`, for example `support.resolve_voice_turn`"
        if what == "name"
        else f"`<node_id>.<{what}>`, for example `voice-support-af.voice`",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_\-]*\.[A-Za-z0-9_][A-Za-z0-9_\-:]*$",
    )


class ApiAutoSchema(AutoSchema):
    """drf-spectacular's schema, plus the error responses common to a route's kind, and
    ``additionalProperties: false`` where a strict serializer refuses unknown fields."""

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "request" and isinstance(serializer, StrictSerializer):
            schema["additionalProperties"] = False
        return schema

    def _common_error_statuses(self) -> set[int]:
        statuses = {503}  # the database stayed busy past its timeout (foundation.errors)
        permissions = self.view.get_permissions()
        if not all(isinstance(p, AllowAny) for p in permissions):
            statuses.add(401)
        if any(type(p) not in (AllowAny, IsAuthenticated) for p in permissions):
            statuses.add(403)
        has_path_parameters = "{" in self.path
        if has_path_parameters:
            statuses |= {400, 404}  # a NUL in the URL; an id that is not there (or not yours)
        if self.method in BODY_METHODS:
            statuses |= {400, 413, 415}
        if self.get_override_parameters():  # query or header parameters to validate
            statuses.add(400)
        if getattr(self.view, "throttle_classes", None):
            statuses.add(429)
        return statuses

    def _role_message(self) -> str | None:
        for permission in self.view.get_permissions():
            message = getattr(permission, "message", None)
            if isinstance(message, str) and message.startswith("this route requires role"):
                return message
        return None

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        common = _common_errors()
        role_message = self._role_message()
        if role_message:
            common[403][1]["wrong_role"] = {"error": "forbidden", "message": role_message}
        for status in sorted(self._common_error_statuses()):
            code = str(status)
            description, examples = common[status]
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    error_response(status, description, examples), code, direction=direction
                )
            else:  # the view's own meaning first, then the one any route of its kind has
                content = responses[code].get("content", {}).get("application/json")
                if content is not None and "ErrorBody" in str(content.get("schema")):
                    for name, body in examples.items():
                        content.setdefault("examples", {}).setdefault(
                            _title(name).title().replace(" ", ""),
                            {"value": body, "summary": _title(name)},
                        )
        return responses
