"""Executions in the Django admin: records, read-only and never deleted (their provenance
records and the workflow DAG refer to them)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from access_app.admin_common import ReadOnlyAdmin, tag_list
from executions_app.models import Execution, WorkflowRun


@admin.register(Execution)
class ExecutionAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = (
        "execution_id",
        "target_name",
        "target_type",
        "status",
        "session_link",
        "owner",
        "actor_id",
        "attempts",
        "created_at",
        "duration_ms",
    )
    list_filter = ("status", "target_type", "error_category", "webhook_status", "created_at")
    search_fields = (
        "execution_id",
        "run_id",
        "workflow_id",
        "parent_execution_id",
        "session_id",
        "target_name",
        "owner",
        "actor_id",
    )
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    exclude = ("webhook_secret",)
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "execution_id",
                    "links",
                    "target",
                    "target_name",
                    "target_type",
                    "status",
                    "status_reason",
                    "error_category",
                    "error_message",
                )
            },
        ),
        ("Input and result", {"fields": ("input", "context", "result")}),
        (
            "Who and from where",
            {
                "fields": (
                    "owner",
                    "actor_id",
                    "claimed_actor_id",
                    "session_id",
                    "caller_tag_list",
                    "target_tag_list",
                )
            },
        ),
        ("Workflow", {"fields": ("run_id", "workflow_id", "parent_execution_id", "depth")}),
        (
            "Dispatch and time",
            {
                "fields": (
                    "attempts",
                    "claimed_by",
                    "lease_expires_at",
                    "awaiting_callback",
                    "created_at",
                    "enqueued_at",
                    "started_at",
                    "completed_at",
                    "duration_ms",
                )
            },
        ),
        (
            "Webhook and provenance",
            {
                "fields": (
                    "webhook_url",
                    "webhook_headers",
                    "webhook_status",
                    "webhook_attempts",
                    "webhook_last_error",
                    "provenance_signature",
                )
            },
        ),
    )

    def get_readonly_fields(self, request, obj=None):
        return [
            *(f.name for f in Execution._meta.fields if f.name != "webhook_secret"),
            "links",
            "caller_tag_list",
            "target_tag_list",
        ]

    @admin.display(description="session", ordering="session_id")
    def session_link(self, execution: Execution) -> str:
        if not execution.session_id:
            return "—"
        query = urlencode({"q": execution.session_id})
        url = f"{reverse('admin:sessions_app_sessioninstance_changelist')}?{query}"
        return format_html('<a href="{}">{}</a>', url, execution.session_id)

    @admin.display(description="see also")
    def links(self, execution: Execution) -> str:
        workflow = reverse("workflow-page", args=[execution.workflow_id])
        children = reverse("admin:executions_app_execution_changelist")
        query = urlencode({"parent_execution_id": execution.execution_id})
        return format_html(
            '<a href="{}">workflow page</a> · <a href="{}?{}">executions it started</a>',
            workflow,
            children,
            query,
        )

    @admin.display(description="caller tags")
    def caller_tag_list(self, execution: Execution) -> str:
        return tag_list(execution.caller_tags)

    @admin.display(description="approved target tags at call time")
    def target_tag_list(self, execution: Execution) -> str:
        return tag_list(execution.target_tags)


@admin.register(WorkflowRun)
class WorkflowRunAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    """Claims of caller-chosen run ids (decision 0016): read-only."""

    list_display = ("run_id", "owner", "created_at")
    search_fields = ("run_id", "owner")
    readonly_fields = ("run_id", "owner", "created_at")
