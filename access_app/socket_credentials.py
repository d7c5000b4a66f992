"""WebSockets follow the API key that opened them: a revoked key closes its sockets.

A socket opened with a key joins the key's channel-layer group; revoking the key (the
``api_key_revoke`` service, which the admin's action uses) sends that group one
``credential.revoked`` message once the revocation commits. The message can be lost (the
in-memory channel layer does not cross processes, Redis can be down, a key can be revoked
by raw SQL), so each socket also rechecks its key every ``RECHECK_SECONDS`` (decision 0018).
A socket opened with a session's client secret follows the key that started the session
(``Principal.on_behalf_of``); sockets opened with a login follow no key.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from access_app.principals import Principal
from access_app.selectors import api_key_is_active

log = logging.getLogger(__name__)

RECHECK_SECONDS = 15.0
REVOKED_MESSAGE = "the API key of this connection was revoked"
STARTER_REVOKED_MESSAGE = "the API key that started this call was revoked"
_KEY_PREFIX = "key:"


def credential_group(principal_id: str) -> str:
    """The channel-layer group of one credential's sockets (ASCII, as groups must be)."""
    return "credential." + re.sub(r"[^A-Za-z0-9_.-]", ".", principal_id)


def credential_revoked_notify(principal_id: str) -> None:
    """Tell every socket of ``principal_id`` to close. Called from synchronous code."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(
            credential_group(principal_id), {"type": "credential.revoked"}
        )
    except Exception:  # the recheck closes the sockets instead
        log.warning("could not notify the sockets of a revoked key", exc_info=True)


def credential_unbound_notify(principal_ids: list[str]) -> None:
    """Tell the sockets of keys that lost their node binding to recheck it."""
    layer = get_channel_layer()
    if layer is None:
        return
    for principal_id in principal_ids:
        try:
            async_to_sync(layer.group_send)(
                credential_group(principal_id), {"type": "credential.unbound"}
            )
        except Exception:  # the link rechecks its binding at its next message anyway
            log.warning("could not notify the sockets of an unbound key", exc_info=True)


class CredentialFollower:
    """Mixin for Channels WebSocket consumers: close when the opening key is revoked.

    The consumer calls ``follow_credential(principal)`` once the socket is accepted,
    ``stop_following_credential()`` in ``disconnect``, and implements
    ``credential_revoked_close(message)``, which tells the client and closes with 4401.
    """

    _credential_recheck: asyncio.Task | None = None
    _credential_revoked = False
    _revoked_message = REVOKED_MESSAGE

    async def follow_credential(self, principal: Principal | None) -> None:
        """Follow the principal's key; a session's client follows its session's starter."""
        if principal is None:
            return
        followed = principal.id
        if principal.session_id:
            followed, self._revoked_message = principal.on_behalf_of, STARTER_REVOKED_MESSAGE
        if not followed.startswith(_KEY_PREFIX):
            return
        group = credential_group(followed)
        await self.channel_layer.group_add(group, self.channel_name)
        self.groups.append(group)  # Channels discards self.groups on disconnect
        key_id = int(followed.removeprefix(_KEY_PREFIX))
        self._credential_recheck = asyncio.create_task(self._recheck(key_id))

    async def _recheck(self, key_id: int) -> None:
        # The first check runs at once: a revocation between the handshake's
        # authentication and joining the group sent its message to nobody.
        while True:
            try:
                if not await database_sync_to_async(api_key_is_active)(key_id):
                    break
            except Exception:  # a database hiccup must not end the rechecks for good
                log.warning("could not recheck the key of a socket", exc_info=True)
            await asyncio.sleep(RECHECK_SECONDS)
        self._credential_recheck = None
        await self._close_revoked()

    async def credential_revoked(self, message: dict) -> None:
        """The channel-layer message ``credential.revoked``."""
        await self.stop_following_credential()
        await self._close_revoked()

    async def credential_unbound(self, message: dict) -> None:
        """The channel-layer message ``credential.unbound``: the key lost its node."""
        await self.credential_binding_changed()

    async def credential_binding_changed(self) -> None:
        """Sockets that act as a node recheck it here; others do not care."""

    async def _close_revoked(self) -> None:
        if not self._credential_revoked:
            self._credential_revoked = True
            await self.credential_revoked_close(self._revoked_message)

    async def stop_following_credential(self) -> None:
        task, self._credential_recheck = self._credential_recheck, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def credential_revoked_close(self, message: str) -> None:
        raise NotImplementedError
