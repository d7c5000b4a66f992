from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from access_app.forms import ThrottledAdminAuthenticationForm
from access_app.models import ApiKey, CallerProfile
from access_app.principals import user_is_admin
from access_app.services.api_keys import api_key_revoke

# Says so when failed logins are throttled (services.login_throttle).
admin.site.login_form = ThrottledAdminAuthenticationForm


# Approvals and revocations are an admin's (an active superuser's), whatever model
# permissions a staff user holds: each such action names the "admin" permission, which the
# model admins below answer with user_is_admin, so nobody else is offered or may run it.
ADMIN_ONLY = ["admin"]


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


@admin.register(ApiKey)
class ApiKeyAdmin(AdminOnlyActions, admin.ModelAdmin):
    list_display = (
        "name",
        "prefix",
        "role",
        "tags",
        "node_id",
        "node_claimed",
        "created_at",
        "revoked_at",
    )
    list_filter = ("role", "node_claimed")
    search_fields = ("name", "prefix", "node_id")
    # Revocation goes through the action (the service), which closes the key's sockets.
    readonly_fields = ("prefix", "key_hash", "created_at", "last_used_at", "revoked_at")
    actions = [revoke_keys]
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

    def has_add_permission(self, request) -> bool:
        # Keys are created with `manage.py create_api_key`, which shows the key once.
        return False


class CallerProfileInline(admin.StackedInline):
    model = CallerProfile
    can_delete = False
    verbose_name_plural = "caller tags"


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class UserWithTagsAdmin(UserAdmin):
    inlines = [CallerProfileInline]


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
class TagDecisionAdmin(admin.ModelAdmin):
    list_display = ("at", "actor", "target", "tag", "decision", "reason")
    list_filter = ("decision",)
    search_fields = ("tag", "actor", "target__name")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(TagRule)
class TagRuleAdmin(admin.ModelAdmin):
    list_display = ("pattern", "mode", "reason", "created_at")
    list_filter = ("mode",)


@admin.register(AccessPolicy)
class AccessPolicyAdmin(admin.ModelAdmin):
    list_display = ("name", "action", "priority", "enabled", "caller_tags", "target_tags")
    list_filter = ("action", "enabled")
