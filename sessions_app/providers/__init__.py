"""Provider adapters, one file each; ``adapter_for`` (realtime), ``direct_adapter_for``
(WebRTC calls with direct media) and ``turn_provider_for`` (turn-based audio) pick the one a
session names."""

from __future__ import annotations

from sessions_app.providers.base import DirectMediaAdapter, ProviderAdapter, ProviderUnavailable
from sessions_app.providers.turns import TurnProvider


def adapter_for(provider: str) -> ProviderAdapter:
    if provider == "openai":
        from sessions_app.providers.openai_realtime import adapter_from_settings

        return adapter_from_settings()
    raise ProviderUnavailable(f"no realtime adapter for provider={provider}")


def direct_adapter_for(provider: str, offer_sdp: str) -> DirectMediaAdapter:
    """A WebRTC call whose media runs between the caller and the provider."""
    if provider == "openai":
        from sessions_app.providers.openai_realtime import call_adapter_from_settings

        return call_adapter_from_settings(offer_sdp)
    raise ProviderUnavailable(f"no direct-media adapter for provider={provider}")


def direct_call_hang_up(provider: str, call_id: str) -> bool:
    """Hang up a direct-media call nobody holds a sideband of; False if it was not."""
    if provider == "openai":
        from sessions_app.providers.openai_realtime import call_hang_up_from_settings

        return call_hang_up_from_settings(call_id)
    return False


def turn_provider_for(provider: str) -> TurnProvider:
    """Raises ``ProviderUnavailable`` (its message is safe to show) without a key."""
    if provider == "openrouter":
        from sessions_app.providers.openrouter_audio import provider_from_settings

        return provider_from_settings()
    raise ProviderUnavailable(f"no turn-based audio adapter for provider={provider}")


def provider_missing_setting(provider: str) -> str:
    """Why this deployment cannot reach ``provider`` (the adapter's own message for a
    missing key), or "" when its settings are there. Asks nobody over the network."""
    from django.conf import settings

    if provider == "openai":
        from sessions_app.providers.openai_realtime import MISSING_KEY, settings_options

        return "" if settings_options()["api_key"] else MISSING_KEY
    if provider == "openrouter":
        from sessions_app.providers.openrouter_audio import MISSING_KEY

        return "" if getattr(settings, "OPENROUTER_API_KEY", "") else MISSING_KEY
    return f"no adapter for provider={provider}"
