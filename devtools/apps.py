from django.apps import AppConfig


class DevtoolsConfig(AppConfig):
    """Commands for development and tests (``run_stack``, ``provider_simulator``) and the
    process launching they share with the test harness and the benchmarks."""

    name = "devtools"
    default_auto_field = "django.db.models.BigAutoField"
