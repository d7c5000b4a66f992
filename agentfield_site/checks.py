"""``manage.py check --deploy`` that sees our middleware for what it is.

Django's security checks look for its own middleware by dotted path in ``MIDDLEWARE``.
Ours are subclasses (``loop_middleware``, decision 0013), so Django would warn that there
is no security, CSRF or clickjacking middleware (false) and then skip the checks of HSTS,
SSL redirect and secure cookies (hiding true warnings). ``install`` swaps those checks
for one that runs the very same Django functions with each of our middleware also listed
under the Django class it extends: Django's rules, messages and ids, true answers.
"""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Tags, register
from django.core.checks.registry import registry
from django.core.checks.security import base, csrf, sessions
from django.utils.module_loading import import_string

DJANGO_MIDDLEWARE = (
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
)
# Every deploy check of Django's that asks whether one of those is in MIDDLEWARE.
MIDDLEWARE_BOUND_CHECKS = (
    base.check_security_middleware,
    base.check_xframe_options_middleware,
    base.check_sts,
    base.check_sts_include_subdomains,
    base.check_sts_preload,
    base.check_content_type_nosniff,
    base.check_ssl_redirect,
    base.check_xframe_deny,
    base.check_referrer_policy,
    base.check_cross_origin_opener_policy,
    csrf.check_csrf_middleware,
    csrf.check_csrf_cookie_secure,
    sessions.check_session_cookie_secure,
    sessions.check_session_cookie_httponly,
)


def middleware_as_django_sees_it(middleware: list[str]) -> list[str]:
    """``middleware``, plus the Django path of each Django class one of them extends."""
    listed = list(middleware)
    for path in middleware:
        cls = import_string(path)
        for django_path in DJANGO_MIDDLEWARE:
            if django_path not in listed and issubclass(cls, import_string(django_path)):
                listed.append(django_path)
    return listed


def middleware_security_checks(app_configs, **kwargs):
    from django.test.utils import override_settings

    with override_settings(MIDDLEWARE=middleware_as_django_sees_it(settings.MIDDLEWARE)):
        return [message for check in MIDDLEWARE_BOUND_CHECKS for message in check(app_configs)]


def install() -> None:
    for check in MIDDLEWARE_BOUND_CHECKS:
        registry.registered_checks.discard(check)
        registry.deployment_checks.discard(check)
    register(middleware_security_checks, Tags.security, deploy=True)
