"""The Django admin of callers: API keys created through ``api_key_create`` (the secret is
shown once, on the page that answers the save, and never stored) and revoked through
``api_key_revoke`` (an action and a button); users with their caller tags as text."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from access_app.admin_common import ADMIN_ONLY, AdminOnlyActions, tag_list
from access_app.admin_forms import ApiKeyChangeForm, ApiKeyCreateForm, CallerProfileForm
from access_app.models import ApiKey, CallerProfile
from access_app.principals import user_is_admin
from access_app.services.api_keys import api_key_create, api_key_revoke


@admin.action(description="Revoke selected keys", permissions=ADMIN_ONLY)
def revoke_keys(modeladmin, request, queryset):
    keys = list(queryset.filter(revoked_at__isnull=True))
    for key in keys:
        api_key_revoke(key=key)  # also closes the WebSockets the key opened
    modeladmin.message_user(request, f"Revoked {len(keys)} key(s).")


class KeyStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("active", "active"), ("revoked", "revoked")]

    def queryset(self, request, queryset):
        if self.value() == "active":
            return queryset.filter(revoked_at__isnull=True)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(ApiKey)
class ApiKeyAdmin(AdminOnlyActions, admin.ModelAdmin):
    """Keys are created and revoked by an admin (an active superuser) only: a key can carry
    any role and tags, so a staff user with model permissions may look, not mint or edit."""

    list_display = (
        "name",
        "prefix",
        "role",
        "tag_list",
        "node_id",
        "node_claimed",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    list_filter = (KeyStateFilter, "role", "node_claimed")
    search_fields = ("name", "prefix", "node_id")
    actions = [revoke_keys]
    form = ApiKeyChangeForm
    add_form = ApiKeyCreateForm
    change_form_template = "admin/access_app/apikey/change_form.html"
    # Revocation goes through the action or the button (the service), which also closes
    # the key's sockets and ends its sessions.
    readonly_fields = ("role", "prefix", "key_hash", "created_at", "last_used_at", "revoked_at")
    fields = (
        "name",
        "role",
        "tags",
        "node_id",
        "node_claimed",
        "prefix",
        "key_hash",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    add_fields = ("name", "role", "tags", "node_id")

    @admin.display(description="tags")
    def tag_list(self, key: ApiKey) -> str:
        return tag_list(key.tags)

    def has_add_permission(self, request) -> bool:
        return user_is_admin(request.user)

    def has_delete_permission(self, request, obj=None) -> bool:
        # Revoked, never deleted: deleting would skip closing the key's sockets and ending
        # its sessions, and would orphan the ``key:<pk>`` owners on its rows.
        return False

    def get_fields(self, request, obj=None):
        return self.add_fields if obj is None else self.fields

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        if not user_is_admin(request.user) or obj.revoked_at is not None:
            return self.fields
        return self.readonly_fields

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, change=change, **kwargs)

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        data = form.cleaned_data
        key, secret = api_key_create(
            name=data["name"], role=data["role"], tags=data["tags"], node_id=data["node_id"]
        )
        obj.pk = key.pk
        obj.refresh_from_db()
        # Kept on this request's object only: the page answering this save shows it, and
        # nothing stores or logs it (the admin's log entry names the fields, not values).
        obj._secret_shown_once = secret

    def response_add(self, request, obj, post_url_continue=None):
        secret = getattr(obj, "_secret_shown_once", None)
        if secret is None:
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "API key created",
            "key": obj,
            "secret": secret,
            "change_url": reverse("admin:access_app_apikey_change", args=[obj.pk]),
            "changelist_url": reverse("admin:access_app_apikey_changelist"),
        }
        response = TemplateResponse(request, "admin/access_app/apikey/created.html", context)
        response["Cache-Control"] = "no-store"
        return response

    def get_urls(self):
        revoke = path(
            "<path:object_id>/revoke/",
            self.admin_site.admin_view(self.revoke_view),
            name="access_app_apikey_revoke",
        )
        return [revoke, *super().get_urls()]

    def revoke_view(self, request, object_id):
        """Confirm (GET), then revoke (POST) one key: an admin's only."""
        if not user_is_admin(request.user):
            raise PermissionDenied
        key = self.get_object(request, unquote(object_id))
        if key is None:
            raise Http404("no such key")
        change_url = reverse("admin:access_app_apikey_change", args=[key.pk])
        if request.method == "POST":
            if key.revoked_at is None:
                api_key_revoke(key=key)
                self.log_change(request, key, "Revoked.")
                self.message_user(request, f"Revoked {key}.", messages.SUCCESS)
            return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Revoke this API key?",
            "key": key,
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/access_app/apikey/revoke.html", context)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["can_revoke"] = bool(
            obj is not None and obj.revoked_at is None and user_is_admin(request.user)
        )
        return super().render_change_form(request, context, add, change, form_url, obj)


class CallerProfileInline(admin.StackedInline):
    model = CallerProfile
    form = CallerProfileForm
    can_delete = False
    verbose_name_plural = "caller tags"


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class UserWithTagsAdmin(UserAdmin):
    inlines = [CallerProfileInline]
    list_display = (*UserAdmin.list_display, "is_superuser", "caller_tags")
    list_select_related = ("caller_profile",)

    @admin.display(description="caller tags")
    def caller_tags(self, user) -> str:
        profile = getattr(user, "caller_profile", None)
        return tag_list(profile.tags if profile is not None else ())
