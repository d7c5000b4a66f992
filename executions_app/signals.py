"""Signals other apps listen to, so this app never imports them."""

from django.dispatch import Signal

# Sent after the commit that made an execution terminal, with ``execution`` (the row as
# written). Sessions use it to log a tool call's result.
execution_ended = Signal()
