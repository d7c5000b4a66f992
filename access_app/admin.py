"""The Django admin of callers, the registry, approvals and policies, and the site's brand.

API keys are created here through ``api_key_create`` (the secret is shown once, on the page
that answers the save, and never stored) and revoked through ``api_key_revoke`` (an action
and a button). Tag and policy lists are edited as text (``admin_forms``).
"""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from access_app.admin_forms import (
    POLICY_HELP,
    AccessPolicyForm,
    ApiKeyChangeForm,
    ApiKeyCreateForm,
    CallerProfileForm,
)
from access_app.forms import ThrottledAdminAuthenticationForm
from access_app.models import ApiKey, CallerProfile
from access_app.principals import user_is_admin
from access_app.services.api_keys import api_key_create, api_key_revoke

# Says so when failed logins are throttled (services.login_throttle).
admin.site.login_form = ThrottledAdminAuthenticationForm
admin.site.site_header = "AgentField Sessions"
admin.site.site_title = "AgentField Sessions"
admin.site.index_title = "AgentField Sessions administration"
# The header links to the product's pages itself (templates/admin/base_site.html).
admin.site.site_url = None


def tag_list(tags) -> str:
    return ", ".join(tags or ()) or "—"


# Approvals and revocations are an admin's (an active superuser's), whatever model
# permissions a staff user holds: each such action names the "admin" permission, which the
# model admins below answer with user_is_admin, so nobody else is offered or may run it.
ADMIN_ONLY = ["admin"]


class ReadOnlyAdmin:
    """A record: viewed in the admin (with the view permission), never added, changed or
    deleted there (so no delete action either)."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class AdminOnlyActions:
    """For the model admins whose actions need ``ADMIN_ONLY``."""

    def has_admin_permission(self, request) -> bool:
        return user_is_admin(request.user)


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


# --- Registry, approvals, policies ---------------------------------------------------------

from access_app.models import (  # noqa: E402
    AccessPolicy,
    AgentNode,
    TagDecision,
    TagRule,
    TagStatus,
    Target,
    TargetTag,
)
from access_app.principals import Principal  # noqa: E402
from access_app.selectors import node_owners  # noqa: E402
from access_app.services.approvals import target_tags_decide  # noqa: E402


class TargetInline(admin.TabularInline):
    model = Target
    fields = ("kind", "name", "active")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True


@admin.register(AgentNode)
class AgentNodeAdmin(admin.ModelAdmin):
    list_display = (
        "node_id",
        "status",
        "bound_keys",
        "base_url",
        "version",
        "registered_at",
        "last_heartbeat",
    )
    list_filter = ("status",)
    search_fields = ("node_id",)
    readonly_fields = (
        "node_id",
        "status",
        "bound_keys",
        "owner",
        "registered_at",
        "updated_at",
        "last_heartbeat",
        "instance_id",
    )
    exclude = ("dispatch_token",)
    inlines = [TargetInline]

    @admin.display(description="owner (keys that act as it)")
    def bound_keys(self, node: AgentNode) -> str:
        keys = node_owners([node]).get(node.node_id, [])
        listed = [f"{k.name} ({k.prefix}…{', claimed' if k.node_claimed else ''})" for k in keys]
        return ", ".join(listed) or "no agent key (admin only)"


class TargetTagInline(admin.TabularInline):
    model = TargetTag
    fields = ("tag", "status", "proposed", "decided_by", "decided_at", "reason")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Target)
class TargetAdmin(AdminOnlyActions, admin.ModelAdmin):
    list_display = ("__str__", "kind", "active", "approval", "definition_status")
    list_filter = ("kind", "active", "approval", "definition_status")
    search_fields = ("name", "node__node_id")
    readonly_fields = (
        "node",
        "kind",
        "name",
        "definition",
        "approval",
        "definition_status",
        "reach",
        "approved_reach",
        "created_at",
    )
    inlines = [TargetTagInline]
    actions = ["approve_everything_pending", "reject_everything_pending"]

    def _decide(self, request, queryset, decision: str) -> None:
        actor = Principal.from_user(request.user).actor
        for target in queryset.select_related("node"):
            target_tags_decide(
                target=target, decision=decision, actor=actor, reason="decided in the Django admin"
            )
        self.message_user(request, f"{decision.capitalize()} what was pending.")

    @admin.action(
        description="Approve pending tags and definitions of the selected targets",
        permissions=ADMIN_ONLY,
    )
    def approve_everything_pending(self, request, queryset):
        self._decide(request, queryset, TagStatus.APPROVED)

    @admin.action(
        description="Reject pending tags and definitions of the selected targets",
        permissions=ADMIN_ONLY,
    )
    def reject_everything_pending(self, request, queryset):
        self._decide(request, queryset, TagStatus.REJECTED)


def _decide_rows(modeladmin, request, queryset, decision: str) -> None:
    actor = Principal.from_user(request.user).actor
    count = 0
    for row in queryset.select_related("target__node"):
        count += len(
            target_tags_decide(
                target=row.target,
                decision=decision,
                actor=actor,
                reason="decided in the Django admin",
                tags=[row.tag],
            )
        )
    modeladmin.message_user(request, f"{decision.capitalize()} {count} tag(s).")


@admin.action(description="Approve selected tags", permissions=ADMIN_ONLY)
def approve_tags(modeladmin, request, queryset):
    _decide_rows(modeladmin, request, queryset, TagStatus.APPROVED)


@admin.action(description="Reject selected tags", permissions=ADMIN_ONLY)
def reject_tags(modeladmin, request, queryset):
    _decide_rows(modeladmin, request, queryset, TagStatus.REJECTED)


@admin.register(TargetTag)
class TargetTagAdmin(AdminOnlyActions, admin.ModelAdmin):
    list_display = ("tag", "target", "status", "decided_by", "decided_at")
    list_filter = ("status", "target__kind")
    search_fields = ("tag", "target__name", "target__node__node_id")
    readonly_fields = ("target", "tag", "status", "decided_by", "decided_at", "reason")
    actions = [approve_tags, reject_tags]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(TagDecision)
class TagDecisionAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = ("at", "actor", "target", "tag", "decision", "reason")
    list_filter = ("decision",)
    search_fields = ("tag", "actor", "target__name")


@admin.register(TagRule)
class TagRuleAdmin(admin.ModelAdmin):
    list_display = ("pattern", "mode", "reason", "created_at")
    list_filter = ("mode",)


@admin.register(AccessPolicy)
class AccessPolicyAdmin(admin.ModelAdmin):
    form = AccessPolicyForm
    list_display = (
        "name",
        "action",
        "priority",
        "enabled",
        "caller_tag_list",
        "target_tag_list",
        "updated_at",
    )
    list_filter = ("action", "enabled")
    search_fields = ("name", "description")
    fieldsets = (
        (None, {"fields": ("name", "description", "enabled"), "description": POLICY_HELP}),
        ("Who and what it applies to", {"fields": ("caller_tags", "target_tags")}),
        ("Decision", {"fields": ("action", "priority")}),
        ("Functions and input", {"fields": ("allow_functions", "deny_functions", "constraints")}),
    )

    @admin.display(description="caller tags")
    def caller_tag_list(self, policy: AccessPolicy) -> str:
        return tag_list(policy.caller_tags) if policy.caller_tags else "any"

    @admin.display(description="target tags")
    def target_tag_list(self, policy: AccessPolicy) -> str:
        return tag_list(policy.target_tags) if policy.target_tags else "any"
