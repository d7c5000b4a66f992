"""The turn-based audio transport's input: one HTTP body, checked before any provider is
asked (``POST /api/v1/session-instances/<id>/turns``).

JSON ``{"audio": {"data": <base64>, "format": "wav"|"mp3"}, "text"?}``, or multipart with a
file field ``audio`` and optional ``text`` and ``format`` fields (without ``format`` the
file's headers tell). In order: the declared body size (413 before reading it), a body
that parses (400), audio or text (400), a supported format (415), base64 (400), the audio's
size (413), and bytes that really are what the format says, by their headers (415).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError, UnsupportedMediaType
from rest_framework.request import Request

from foundation.strict_json import UntrustedJSONError, check_text
from sessions_app.providers.turns import AudioClip
from sessions_app.services.turns import TurnInput
from sessions_app.transports.audio_files import duration_ms, sniff

FORMATS = ("wav", "mp3")
FORMAT_NAMES = {"wav": "a WAV", "mp3": "an MP3"}
MAX_TEXT_CHARS = 10_000
ENVELOPE_BYTES = 64 * 1024  # JSON or multipart around the audio


class TurnInputError(Exception):
    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.status = status
        self.body = {"error": error}


def _too_large() -> TurnInputError:
    limit = settings.AGENTFIELD_MAX_TURN_BYTES
    return TurnInputError(413, f"audio is larger than AGENTFIELD_MAX_TURN_BYTES ({limit} bytes)")


def read_turn_input(request: Request) -> TurnInput:
    """The turn a request carries, or ``TurnInputError`` with the status and body to send."""
    limit = settings.AGENTFIELD_MAX_TURN_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit * 4 // 3 + ENVELOPE_BYTES:  # base64 is 4/3 of the bytes
        raise _too_large()
    try:
        body = request.data
    except ParseError:
        raise TurnInputError(400, "invalid JSON body") from None
    except UnsupportedMediaType:
        raise TurnInputError(
            415, "send application/json or multipart/form-data with the audio"
        ) from None
    if "multipart/" in (request.content_type or ""):
        audio, fmt, text = _from_multipart(request)
    else:
        audio, fmt, text = _from_json(body)
    if len(text) > MAX_TEXT_CHARS:
        raise TurnInputError(400, f"text is longer than {MAX_TEXT_CHARS} characters")
    try:
        check_text(text, what="text")  # multipart fields do not pass the JSON parser
    except UntrustedJSONError as exc:
        raise TurnInputError(400, str(exc)) from None
    if audio is None:
        if not text.strip():
            raise TurnInputError(400, "audio or text is required")
        return TurnInput(text=text)
    audio_ms = duration_ms(audio, fmt)
    if audio_ms is None:
        raise TurnInputError(415, f"the audio is not {FORMAT_NAMES[fmt]} file")
    return TurnInput(audio=AudioClip(audio, fmt), text=text, audio_ms=audio_ms)


def _format(value: Any) -> str:
    fmt = str(value).strip().lower()
    if fmt not in FORMATS:
        raise TurnInputError(415, f"unsupported audio format '{value}': use wav or mp3")
    return fmt


def _from_json(body: Any) -> tuple[bytes | None, str, str]:
    if not isinstance(body, dict):
        raise TurnInputError(400, "invalid JSON body")
    text, audio = body.get("text") or "", body.get("audio")
    if not isinstance(text, str):
        raise TurnInputError(400, "text must be a string")
    if audio is None:
        return None, "", text
    if not isinstance(audio, dict) or not isinstance(audio.get("data"), str):
        raise TurnInputError(400, 'audio must be {"data": <base64>, "format": "wav"|"mp3"}')
    fmt = _format(audio.get("format"))
    encoded = "".join(audio["data"].split())
    if len(encoded) > settings.AGENTFIELD_MAX_TURN_BYTES * 4 // 3 + 4:
        raise _too_large()
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise TurnInputError(400, "audio.data is not valid base64") from None
    if len(data) > settings.AGENTFIELD_MAX_TURN_BYTES:
        raise _too_large()
    if not data:
        raise TurnInputError(400, "audio.data is empty")
    return data, fmt, text


def _from_multipart(request: Request) -> tuple[bytes | None, str, str]:
    text = request.data.get("text") or ""
    upload = request.FILES.get("audio")
    if upload is None:
        return None, "", text
    if upload.size > settings.AGENTFIELD_MAX_TURN_BYTES:
        raise _too_large()
    data = upload.read()
    if not data:
        raise TurnInputError(400, "the audio file is empty")
    named = request.data.get("format")
    if named:
        return data, _format(named), text
    fmt = sniff(data)
    if fmt is None:
        raise TurnInputError(415, "the audio file is neither WAV nor MP3")
    return data, fmt, text
