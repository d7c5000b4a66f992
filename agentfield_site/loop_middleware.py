"""Django's own middleware, minus a thread hop per hook under ASGI.

Django's built-in middleware is sync code behind ``MiddlewareMixin``: under daphne every
``process_request``/``process_response``/``process_view`` runs through ``sync_to_async``,
about 0.25 ms of CPU each here, thirteen times per request. Most of these hooks only read
cookies and set headers. Each subclass below names the one case where its hook can touch
the database (a session to save, messages kept in the session, a form body to parse) and
runs the hook in a thread only then; otherwise it runs on the event loop. Django's
``async_unsafe`` guard turns any database access that slipped onto the loop into an error
rather than a stall, and the tests drive each case through the ASGI handler.

Under WSGI (and Django's sync test client) the hooks run as they always did.
"""

from __future__ import annotations

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.conf import settings
from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.middleware import clickjacking, common, csrf, security

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class LoopSafeHooks:
    """Mixin for a ``MiddlewareMixin`` subclass: hooks run inline unless they say otherwise."""

    def request_needs_thread(self, request) -> bool:
        return False

    def response_needs_thread(self, request, response) -> bool:
        return False

    async def __acall__(self, request):
        response = None
        if hasattr(self, "process_request"):
            if self.request_needs_thread(request):
                response = await sync_to_async(self.process_request, thread_sensitive=True)(request)
            else:
                response = self.process_request(request)
        response = response or await self.get_response(request)
        if hasattr(self, "process_response"):
            if self.response_needs_thread(request, response):
                response = await sync_to_async(self.process_response, thread_sensitive=True)(
                    request, response
                )
            else:
                response = self.process_response(request, response)
        return response


class SecurityMiddleware(LoopSafeHooks, security.SecurityMiddleware):
    """Redirects and headers only."""


class CommonMiddleware(LoopSafeHooks, common.CommonMiddleware):
    """Header checks and URL resolving (for APPEND_SLASH) only."""


class XFrameOptionsMiddleware(LoopSafeHooks, clickjacking.XFrameOptionsMiddleware):
    """One header."""


class AuthenticationMiddleware(LoopSafeHooks, auth.AuthenticationMiddleware):
    """Sets a lazy ``request.user``; the user is loaded where it is first used."""


class SessionMiddleware(LoopSafeHooks, sessions.SessionMiddleware):
    """Creating the (lazy) store is free; saving a changed session writes to its backend."""

    def response_needs_thread(self, request, response) -> bool:
        session = getattr(request, "session", None)
        return session is not None and (session.modified or settings.SESSION_SAVE_EVERY_REQUEST)


class MessageMiddleware(LoopSafeHooks, messages.MessageMiddleware):
    """Storing messages can load the session; untouched storage does nothing."""

    def response_needs_thread(self, request, response) -> bool:
        storage = getattr(request, "_messages", None)
        return storage is not None and (storage.used or storage.added_new)


class CsrfViewMiddleware(LoopSafeHooks, csrf.CsrfViewMiddleware):
    """The secret lives in a cookie unless ``CSRF_USE_SESSIONS``. Checking an unsafe
    request may parse a form body (possibly spooled to disk): that one runs in a thread."""

    def __init__(self, get_response) -> None:
        super().__init__(get_response)
        if iscoroutinefunction(self):
            # Django adapts each ``process_view`` by its own kind when loading the chain.
            self.process_view = self._process_view_async

    def request_needs_thread(self, request) -> bool:
        return settings.CSRF_USE_SESSIONS

    def response_needs_thread(self, request, response) -> bool:
        return settings.CSRF_USE_SESSIONS

    async def _process_view_async(self, request, callback, callback_args, callback_kwargs):
        check = super().process_view
        if request.method in SAFE_METHODS or getattr(callback, "csrf_exempt", False):
            return check(request, callback, callback_args, callback_kwargs)
        return await sync_to_async(check, thread_sensitive=True)(
            request, callback, callback_args, callback_kwargs
        )
