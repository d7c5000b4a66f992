"""Reactions to other apps' signals (connected in ``SessionsConfig.ready``)."""

from __future__ import annotations

from django.dispatch import receiver

from access_app.signals import api_key_revoked
from access_app.socket_credentials import STARTER_REVOKED_MESSAGE
from executions_app.signals import execution_ended, session_binding_requested
from sessions_app.services.lifecycle import sessions_end_started_by
from sessions_app.services.tools import session_execution_binding, tool_result_record


@receiver(execution_ended)
def log_tool_result(sender, execution, **kwargs) -> None:
    tool_result_record(execution)


@receiver(api_key_revoked)
def end_the_revoked_keys_sessions(sender, principal_id: str, **kwargs) -> None:
    sessions_end_started_by(principal_id, reason=STARTER_REVOKED_MESSAGE)


@receiver(session_binding_requested)
def bind_to_the_session(sender, principal, session_id: str, target: str, **kwargs):
    return session_execution_binding(principal, session_id, target)
