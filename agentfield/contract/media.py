"""How a ``webrtc`` session's media flows, shared by the SDKs and the control plane.

``relay``: the browser's peer is the control plane's own (aiortc), which carries the media
to the provider; the default. ``direct``: the browser's media goes straight to the
provider, and the control plane keeps a sideband to it. Other transports always carry
their media through the control plane and declare no media. Nothing infers the media from
the provider or the transport, nor the other way round.
"""

from __future__ import annotations

from collections.abc import Mapping

from agentfield.contract.matrix import normalize_session_value

SESSION_MEDIA = ("direct", "relay")
DEFAULT_SESSION_MEDIA = "relay"
MEDIA_TRANSPORT = "webrtc"
# provider -> the media it can do over webrtc; a provider not listed relays only.
SUPPORTED_SESSION_MEDIA: dict[str, tuple[str, ...]] = {"openai": ("direct", "relay")}


def _listed(values: tuple[str, ...] | list[str]) -> str:
    return ", ".join(sorted(values)) or "none"


def validate_session_media(
    media: object,
    provider: str,
    transport: str,
    supported: Mapping[str, tuple[str, ...] | list[str]] | None = None,
) -> str:
    """The normalized media: ``relay`` or ``direct`` for ``webrtc``, ``""`` for others.

    ``provider`` and ``transport`` must already be normalized and valid. ``supported`` is
    this deployment's table (default: the contract's); a media the contract allows but
    ``supported`` lacks is one the deployment turned off. Raises ``ValueError``.
    """
    table = SUPPORTED_SESSION_MEDIA if supported is None else supported
    value = normalize_session_value(media)
    if value and value not in SESSION_MEDIA:
        raise ValueError(
            f"Unknown session media '{value}'. Known media: {_listed(SESSION_MEDIA)}. "
            "AgentField does not infer media; set media explicitly."
        )
    if transport != MEDIA_TRANSPORT:
        if value not in ("", DEFAULT_SESSION_MEDIA):
            raise ValueError(
                f"Session media applies to transport '{MEDIA_TRANSPORT}' only; transport "
                f"'{transport}' always carries its media through the control plane. "
                "Leave media out or set it to relay."
            )
        return ""
    value = value or DEFAULT_SESSION_MEDIA
    allowed = tuple(table.get(provider, (DEFAULT_SESSION_MEDIA,)))
    if value in allowed:
        return value
    if value in SUPPORTED_SESSION_MEDIA.get(provider, ()):
        raise ValueError(
            f"This control plane has {value} media turned off. Supported media for "
            f"provider '{provider}': {_listed(allowed)}. AgentField does not infer media; "
            "set media explicitly."
        )
    raise ValueError(
        f"Unsupported session media '{value}' for provider '{provider}'. Supported media: "
        f"{_listed(allowed)}. AgentField does not infer media; set media explicitly."
    )
