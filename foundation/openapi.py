"""The OpenAPI document tells the truth about errors too.

Every operation lists the error statuses it can answer, each with the one error body
(``{"error": ..., "message"?: ...}``, more fields allowed): the ones any route of its kind
can give are added here, and a view adds its own with ``extend_schema(responses=errors(...))``.
"""

from __future__ import annotations

from http import HTTPStatus

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAuthenticated

from foundation.serializers import StrictSerializer

BODY_METHODS = {"POST", "PUT", "PATCH"}


class ErrorBodySerializer(serializers.Serializer):
    error = serializers.CharField(
        help_text="our routes: a short code; upstream routes: the human message"
    )
    message = serializers.CharField(required=False, help_text="our routes: the human message")


def error_response(status: int) -> OpenApiResponse:
    return OpenApiResponse(ErrorBodySerializer, description=HTTPStatus(status).phrase)


def errors(*statuses: int) -> dict[int, OpenApiResponse]:
    """``responses={201: Out, **errors(409, 410)}`` for statuses only this view answers."""
    return {status: error_response(status) for status in statuses}


def target_parameter(what: str) -> OpenApiParameter:
    """The ``<node>.<name>`` path parameter, with the shape the views check."""
    return OpenApiParameter(
        "target",
        OpenApiTypes.STR,
        OpenApiParameter.PATH,
        description=f"<node_id>.<{what}>",
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

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for status in sorted(self._common_error_statuses()):
            code = str(status)
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    error_response(status), code, direction=direction
                )
        return responses
