"""Login forms: the admin's and the product's (a password, or an API key), saying plainly
when failed logins are throttled."""

from __future__ import annotations

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm

from access_app.models import ApiKey, Role
from access_app.services.api_keys import api_key_authenticate
from access_app.services.login_throttle import (
    client_address,
    login_failure_record,
    login_refused,
    refused_message,
)

# The name failed API-key sign-ins are counted under (with the client address); they also
# count towards the address's limit over every name.
API_KEY_LOGIN_NAME = "(api key)"


class ThrottledAdminAuthenticationForm(AdminAuthenticationForm):
    """The backend refuses a throttled login anyway; this form says why."""

    def clean(self):
        username = self.cleaned_data.get("username")
        if username is not None and login_refused(username, client_address(self.request)):
            raise forms.ValidationError(refused_message(), code="throttled")
        return super().clean()


class ProductLoginForm(AuthenticationForm):
    """The product's login: superusers and users with a caller profile (their tags)."""

    error_messages = AuthenticationForm.error_messages | {
        "no_profile": (
            "This account has no caller profile, so it cannot use the pages yet. "
            "Ask an admin to give it caller tags."
        ),
    }

    def clean(self):
        username = self.cleaned_data.get("username")
        if username is not None and login_refused(username, client_address(self.request)):
            raise forms.ValidationError(refused_message(), code="throttled")
        return super().clean()

    def confirm_login_allowed(self, user) -> None:
        super().confirm_login_allowed(user)
        if not user.is_superuser and getattr(user, "caller_profile", None) is None:
            raise forms.ValidationError(self.error_messages["no_profile"], code="no_profile")


class ApiKeyLoginForm(forms.Form):
    """Sign in with a caller's (or an admin's) API key; agent keys are refused."""

    api_key = forms.CharField(
        label="API key",
        strip=True,
        max_length=200,
        widget=forms.PasswordInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )

    def __init__(self, request=None, *args, **kwargs) -> None:
        self.request = request
        self.key: ApiKey | None = None
        super().__init__(*args, **kwargs)

    def clean_api_key(self) -> str:
        plaintext = self.cleaned_data["api_key"]
        address = client_address(self.request)
        if login_refused(API_KEY_LOGIN_NAME, address):
            raise forms.ValidationError(refused_message(), code="throttled")
        key = api_key_authenticate(plaintext)
        if key is None:
            login_failure_record(API_KEY_LOGIN_NAME, address)
            raise forms.ValidationError(
                "That API key is not valid (unknown or revoked).", code="invalid_key"
            )
        if key.role == Role.AGENT:
            raise forms.ValidationError(
                "That is an agent node's key: agent keys cannot sign in to the pages. "
                "Use a caller key.",
                code="agent_key",
            )
        self.key = key
        return ""  # the secret goes no further than this form
