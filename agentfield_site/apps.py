from django.apps import AppConfig


class SiteConfig(AppConfig):
    """The site itself: its system checks (no models)."""

    name = "agentfield_site"
    verbose_name = "AgentField site"

    def ready(self) -> None:
        from agentfield_site import checks

        checks.install()
