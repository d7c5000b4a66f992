"""The admin's login form, saying plainly when failed logins are throttled."""

from __future__ import annotations

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm

from access_app.services.login_throttle import client_address, login_refused, refused_message


class ThrottledAdminAuthenticationForm(AdminAuthenticationForm):
    """The backend refuses a throttled login anyway; this form says why."""

    def clean(self):
        username = self.cleaned_data.get("username")
        if username is not None and login_refused(username, client_address(self.request)):
            raise forms.ValidationError(refused_message(), code="throttled")
        return super().clean()
