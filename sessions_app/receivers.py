"""Reactions to other apps' signals (connected in ``SessionsConfig.ready``)."""

from __future__ import annotations

from django.dispatch import receiver

from executions_app.signals import execution_ended
from sessions_app.services.tools import tool_result_record


@receiver(execution_ended)
def log_tool_result(sender, execution, **kwargs) -> None:
    tool_result_record(execution)
