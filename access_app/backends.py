"""Django's model backend behind the failed-login throttle (``services.login_throttle``).

Every password login (the admin's form or any other ``authenticate`` call with a request)
goes through here: a throttled name and address is refused before the password is checked.
"""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.exceptions import PermissionDenied
from django.dispatch import receiver

from access_app.services.login_throttle import (
    client_address,
    login_failure_record,
    login_refused,
    login_success_record,
)


class ThrottledModelBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is not None and login_refused(username, client_address(request)):
            raise PermissionDenied  # ends authenticate(); user_login_failed still counts it
        return super().authenticate(request, username=username, password=password, **kwargs)


@receiver(user_login_failed)
def count_failed_login(sender, credentials, request=None, **kwargs) -> None:
    login_failure_record(str(credentials.get("username", "")), client_address(request))


@receiver(user_logged_in)
def clear_failed_logins(sender, request, user, **kwargs) -> None:
    if request is not None and request.META.get("REMOTE_ADDR") is not None:
        login_success_record(user.get_username(), client_address(request))
