from django.apps import AppConfig


class ExecutionsAppConfig(AppConfig):
    name = "executions_app"
    verbose_name = "Executions"
