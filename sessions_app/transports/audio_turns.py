"""The turn-based audio transport's input: one HTTP body, checked before any provider is
asked (``POST /api/v1/session-instances/<id>/turns``).

JSON ``{"audio": {"data": <base64>, "format": "wav"|"mp3"}, "text"?}``, or multipart with a
file field ``audio`` and optional ``text`` and ``format`` fields (without ``format`` the
file's headers tell). In order: the declared body size (413 before reading it), a body
that parses (400), audio or text (400), a supported format (415), base64 (400), the audio's
size (413), and bytes that really are what the format says, by their headers (415).
``turn_body_read`` does the first two, the turn input serializers (below) the rest. Every
refusal is an ``ApiError`` with the route's exact body.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ParseError, UnsupportedMediaType
from rest_framework.request import Request

from foundation.errors import ApiError
from foundation.strict_json import UntrustedJSONError, check_text
from sessions_app.providers.turns import AudioClip
from sessions_app.services.turns import TurnInput
from sessions_app.transports.audio_files import duration_ms, sniff

FORMATS = ("wav", "mp3")
FORMAT_NAMES = {"wav": "a WAV", "mp3": "an MP3"}
MAX_TEXT_CHARS = 10_000
ENVELOPE_BYTES = 64 * 1024  # JSON or multipart around the audio


def _too_large() -> ApiError:
    limit = settings.AGENTFIELD_MAX_TURN_BYTES
    return ApiError(413, f"audio is larger than AGENTFIELD_MAX_TURN_BYTES ({limit} bytes)")


def turn_body_read(request: Request) -> Any:
    """The parsed body, once its declared size is within the limit (413 before reading it);
    400 or 415 (``ApiError``) if it does not parse."""
    limit = settings.AGENTFIELD_MAX_TURN_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit * 4 // 3 + ENVELOPE_BYTES:  # base64 is 4/3 of the bytes
        raise _too_large()
    try:
        return request.data
    except ParseError:
        raise ApiError(400, "invalid JSON body") from None
    except UnsupportedMediaType:
        raise ApiError(415, "send application/json or multipart/form-data with the audio") from None


def is_multipart(request: Request) -> bool:
    return "multipart/" in (request.content_type or "")


def turn_input_build(audio: bytes | None, fmt: str, text: str) -> TurnInput:
    """The checks every turn gets once its parts are read: the text, then the audio's bytes
    against its format."""
    if len(text) > MAX_TEXT_CHARS:
        raise ApiError(400, f"text is longer than {MAX_TEXT_CHARS} characters")
    try:
        check_text(text, what="text")  # multipart fields do not pass the JSON parser
    except UntrustedJSONError as exc:
        raise ApiError(400, str(exc)) from None
    if audio is None:
        if not text.strip():
            raise ApiError(400, "audio or text is required")
        return TurnInput(text=text)
    audio_ms = duration_ms(audio, fmt)
    if audio_ms is None:
        raise ApiError(415, f"the audio is not {FORMAT_NAMES[fmt]} file")
    return TurnInput(audio=AudioClip(audio, fmt), text=text, audio_ms=audio_ms)


def audio_format(value: Any) -> str:
    fmt = str(value).strip().lower()
    if fmt not in FORMATS:
        raise ApiError(415, f"unsupported audio format '{value}': use wav or mp3")
    return fmt


def audio_from_base64(value: str) -> bytes:
    encoded = "".join(value.split())
    if len(encoded) > settings.AGENTFIELD_MAX_TURN_BYTES * 4 // 3 + 4:
        raise _too_large()
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "audio.data is not valid base64") from None
    if len(data) > settings.AGENTFIELD_MAX_TURN_BYTES:
        raise _too_large()
    if not data:
        raise ApiError(400, "audio.data is empty")
    return data


def audio_from_upload(upload) -> bytes:
    if upload.size > settings.AGENTFIELD_MAX_TURN_BYTES:
        raise _too_large()
    data = upload.read()
    if not data:
        raise ApiError(400, "the audio file is empty")
    return data


def audio_sniffed(data: bytes) -> str:
    """An upload's format by its headers, when the request did not name one."""
    fmt = sniff(data)
    if fmt is None:
        raise ApiError(415, "the audio file is neither WAV nor MP3")
    return fmt


# --- the input serializers of the turns route ------------------------------------------


@extend_schema_field(OpenApiTypes.STR)
class _TurnText(serializers.Field):
    def to_internal_value(self, data: Any) -> str:
        if not data:
            return ""
        if not isinstance(data, str):
            raise ApiError(400, "text must be a string")
        return data


class _TurnAudioIn(serializers.Serializer):
    """``{"data": <base64>, "format": "wav"|"mp3"}``, checked in upstream's order."""

    data = serializers.CharField(help_text="base64 audio")
    format = serializers.ChoiceField(choices=FORMATS)

    def to_internal_value(self, data: Any) -> tuple[bytes, str]:
        if not isinstance(data, dict) or not isinstance(data.get("data"), str):
            raise ApiError(400, 'audio must be {"data": <base64>, "format": "wav"|"mp3"}')
        fmt = audio_format(data.get("format"))
        return audio_from_base64(data["data"]), fmt


class TurnInSerializer(serializers.Serializer):
    """A JSON turn; ``validated_data["turn"]`` is the ``TurnInput``. Every refusal is an
    ``ApiError`` with the route's exact body, before any provider is asked."""

    text = _TurnText(required=False, allow_null=True)
    audio = _TurnAudioIn(required=False, allow_null=True)

    def run_validation(self, data: Any = serializers.empty) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise ApiError(400, "invalid JSON body")
        return super().run_validation(data)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        audio, fmt = attrs.get("audio") or (None, "")
        return {"turn": turn_input_build(audio, fmt, attrs.get("text") or "")}


@extend_schema_field(OpenApiTypes.BINARY)
class _Upload(serializers.Field):
    """A file part, as Django received it (not a text field of the same name)."""

    def to_internal_value(self, data: Any) -> Any:
        return data if hasattr(data, "read") else None


@extend_schema_field(OpenApiTypes.STR)
class _FormText(serializers.Field):
    def to_internal_value(self, data: Any) -> str:
        return data


class TurnMultipartInSerializer(serializers.Serializer):
    """A multipart turn: a file ``audio``, optional ``text`` and ``format`` (without it the
    file's headers tell)."""

    audio = _Upload(required=False, help_text="a WAV or MP3 file")
    text = _FormText(required=False)
    format = _FormText(required=False, help_text="wav or mp3")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        text, upload = attrs.get("text") or "", attrs.get("audio")
        if upload is None:
            return {"turn": turn_input_build(None, "", text)}
        data = audio_from_upload(upload)
        named = attrs.get("format")
        fmt = audio_format(named) if named else audio_sniffed(data)
        return {"turn": turn_input_build(data, fmt, text)}
