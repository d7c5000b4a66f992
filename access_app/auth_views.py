"""The product's sign-in pages: a password login for any active user with a caller profile
(or a superuser), a sign-in with an API key (decision 0031), and logout."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import REDIRECT_FIELD_NAME, logout
from django.contrib.auth.views import LoginView, LogoutView
from django.middleware.csrf import rotate_token
from django.shortcuts import redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from access_app.forms import ApiKeyLoginForm, ProductLoginForm
from access_app.principals import SESSION_API_KEY

TEMPLATE = "registration/login.html"


def _safe_next(request) -> str:
    """``next`` when it points at this site, else the default landing page."""
    target = request.POST.get(REDIRECT_FIELD_NAME) or request.GET.get(REDIRECT_FIELD_NAME, "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return resolve_url(settings.LOGIN_REDIRECT_URL)


class ProductLoginView(LoginView):
    template_name = TEMPLATE
    authentication_form = ProductLoginForm

    def form_valid(self, form):
        self.request.session.pop(SESSION_API_KEY, None)  # a password login replaces a key's
        return super().form_valid(form)

    def get_context_data(self, **kwargs):
        kwargs.setdefault("key_form", ApiKeyLoginForm())
        return super().get_context_data(**kwargs)


@sensitive_post_parameters("api_key")
@csrf_protect
@never_cache
@require_POST
def api_key_login(request):
    """Sign the browser in as an API key's principal: the session keeps the key's pk only."""
    key_form = ApiKeyLoginForm(request, data=request.POST)
    if not key_form.is_valid():
        context = {
            "form": ProductLoginForm(request),
            "key_form": key_form,
            REDIRECT_FIELD_NAME: _safe_next(request),
            "key_tab": True,
        }
        return render(request, TEMPLATE, context, status=400)
    logout(request)  # whoever was signed in before; a new session, so no fixation
    request.session[SESSION_API_KEY] = key_form.key.pk
    rotate_token(request)
    return redirect(_safe_next(request))


class ProductLogoutView(LogoutView):
    """POST only (Django's): ends a password login or an API-key sign-in alike."""

    next_page = "overview"
