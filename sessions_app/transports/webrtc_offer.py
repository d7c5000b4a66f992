"""The checks on a realtime offer before any peer exists: upstream's, in its order, then ours."""

from __future__ import annotations

from aiortc import sdp as aiortc_sdp
from django.conf import settings

from agentfield.contract.matrix import validate_session_transport
from foundation.errors import ApiError
from sessions_app.models import SessionInstance, Transport
from sessions_app.providers.base import ProviderUnavailable

MAX_OFFER_BYTES = 64 * 1024
PROVIDER_BOUNDARY = "control-plane -> realtime provider"


def offer_request_check(
    *, session: SessionInstance, provider: str, transport: str, body: bytes
) -> str:
    """The offer's SDP text, or ``ApiError``.

    ``provider`` and ``transport`` (query) are optional; given, they are validated as
    upstream does, both then required. Whatever the request or the session makes invalid is
    a 400 before the provider's credentials are looked at (502).
    """
    if provider.strip() or transport.strip():
        try:
            pair = validate_session_transport(
                provider, transport, settings.AGENTFIELD_SESSION_CAPABILITIES
            )
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        if pair.transport != Transport.WEBRTC:
            raise ApiError(400, "realtime-offer requires transport=webrtc")
        if pair.provider != "openai":
            raise ApiError(400, "webrtc realtime offers currently require provider=openai")
    if session.transport != Transport.WEBRTC:
        raise ApiError(
            400,
            f"session {session.session_id} uses transport={session.transport}; "
            "realtime-offer requires transport=webrtc",
        )
    if not settings.OPENAI_API_KEY:  # only once the offer could become a call
        raise ApiError(502, "OPENAI_API_KEY is required for provider=openai transport=webrtc")
    try:
        sdp = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "invalid SDP offer: it is not UTF-8 text") from None
    if not sdp.strip():
        raise ApiError(400, "SDP offer body is required")
    return sdp


def offer_sdp_check(sdp: str) -> None:
    """A call is one audio section, plus the data channel, each with its ICE credentials:
    ``ApiError`` (400) if not. A direct-media offer goes to the provider as it is, so what
    our own peer would refuse is refused here, with its words."""
    if len(sdp) > MAX_OFFER_BYTES:
        raise _invalid("it is larger than 64 KiB")
    try:
        sections = aiortc_sdp.SessionDescription.parse(sdp).media
    except Exception as exc:
        raise _invalid(f"it could not be parsed ({type(exc).__name__})") from None
    kinds = [media.kind for media in sections]
    if kinds.count("audio") != 1:
        raise _invalid(f"it needs exactly one audio section, it has {kinds.count('audio')}")
    unexpected = sorted({kind for kind in kinds if kind not in ("audio", "application")})
    if unexpected:
        raise _invalid(f"only audio and a data channel are accepted, not {', '.join(unexpected)}")
    for media in sections:
        if media.ice is None or not media.ice.usernameFragment or not media.ice.password:
            raise _invalid("ICE username fragment or password is missing")
        if media.kind == "audio" and not media.rtcp_mux:
            raise _invalid("RTCP mux is not enabled")


def invalid_offer(exc: Exception) -> ApiError:
    """What aiortc said about an offer it would not take."""
    return _invalid(str(exc)[:200] or type(exc).__name__)


def _invalid(problem: str) -> ApiError:
    return ApiError(400, f"invalid SDP offer: {problem}")


def provider_failure(exc: ProviderUnavailable) -> ApiError:
    """Upstream's 502 for a provider that would not open the call."""
    return ApiError(
        502,
        f"OpenAI realtime call failed ({exc.code}): {exc.detail}",
        boundary=PROVIDER_BOUNDARY,
        provider="openai",
    )
