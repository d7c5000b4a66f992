"""Signals other apps listen to, so this app never imports them."""

from django.dispatch import Signal

# Sent after the commit that made an execution terminal, with ``execution`` (the row as
# written). Sessions use it to log a tool call's result.
execution_ended = Signal()

# Sent, inside the accepting transaction, when a request names a session (``X-Session-ID``),
# with ``principal``, ``session_id`` and ``target``. A receiver returns a ``SessionBinding``
# or raises to refuse; sessions answer it (``sessions_app.receivers``).
session_binding_requested = Signal()
