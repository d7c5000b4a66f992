from django.apps import AppConfig


class SessionsAppConfig(AppConfig):
    name = "sessions_app"
    verbose_name = "Sessions"

    def ready(self) -> None:
        from executions_app.session_binding import register_session_binder
        from sessions_app import receivers  # noqa: F401  (connects the signal receivers)
        from sessions_app.services.tools import session_execution_binding

        register_session_binder(session_execution_binding)
