"""Provider adapters, one file each; ``adapter_for`` picks the one a session names."""

from __future__ import annotations

from sessions_app.providers.base import ProviderAdapter, ProviderUnavailable


def adapter_for(provider: str) -> ProviderAdapter:
    if provider == "openai":
        from sessions_app.providers.openai_realtime import adapter_from_settings

        return adapter_from_settings()
    raise ProviderUnavailable(f"no realtime adapter for provider={provider}")
