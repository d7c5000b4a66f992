"""Signals other apps listen to, so this app never imports them."""

from django.dispatch import Signal

# Sent after the commit that revoked an API key, with ``principal_id`` (``key:<pk>``).
# Sessions end the calls the key started (decision 0018).
api_key_revoked = Signal()
