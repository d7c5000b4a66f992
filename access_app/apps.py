from django.apps import AppConfig


class AccessAppConfig(AppConfig):
    name = "access_app"
    verbose_name = "Access: keys, nodes, tags and policies"

    def ready(self) -> None:
        from access_app import backends  # noqa: F401  (connects the failed-login counters)
