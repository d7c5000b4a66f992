"""The Django admin of the registry, approvals and policies, and the site's brand. Callers
(API keys, users) are in ``admin_keys``; tag and policy lists are edited as text
(``admin_forms``)."""

from __future__ import annotations

from django.contrib import admin

from access_app import admin_keys  # noqa: F401  (registers the callers' admins)
from access_app.admin_common import ADMIN_ONLY, AdminOnlyActions, ReadOnlyAdmin, tag_list
from access_app.admin_forms import POLICY_HELP, AccessPolicyForm
from access_app.forms import ThrottledAdminAuthenticationForm
from access_app.models import (
    AccessPolicy,
    AgentNode,
    TagDecision,
    TagRule,
    TagStatus,
    Target,
    TargetTag,
)
from access_app.principals import Principal
from access_app.selectors import node_owners
from access_app.services.approvals import target_tags_decide

# Says so when failed logins are throttled (services.login_throttle).
admin.site.login_form = ThrottledAdminAuthenticationForm
admin.site.site_header = "AgentField Sessions"
admin.site.site_title = "AgentField Sessions"
admin.site.index_title = "AgentField Sessions administration"
# The header links to the product's pages itself (templates/admin/base_site.html).
admin.site.site_url = None


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
