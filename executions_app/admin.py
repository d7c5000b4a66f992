from django.contrib import admin

from executions_app.models import Execution, WorkflowRun


@admin.register(Execution)
class ExecutionAdmin(admin.ModelAdmin):
    list_display = (
        "execution_id",
        "target_name",
        "status",
        "session_id",
        "owner",
        "created_at",
        "duration_ms",
    )
    list_filter = ("status", "target_type", "error_category")
    search_fields = ("execution_id", "run_id", "workflow_id", "session_id", "target_name")
    exclude = ("webhook_secret",)
    readonly_fields = [f.name for f in Execution._meta.fields if f.name != "webhook_secret"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(WorkflowRun)
class WorkflowRunAdmin(admin.ModelAdmin):
    """Claims of caller-chosen run ids (decision 0016): read-only."""

    list_display = ("run_id", "owner", "created_at")
    search_fields = ("run_id", "owner")
    readonly_fields = ("run_id", "owner", "created_at")

    def has_add_permission(self, request) -> bool:
        return False
