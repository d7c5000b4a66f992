"""Executions: one call of a reasoner or skill, its place in a workflow, and its record."""

from __future__ import annotations

from django.db import models

from access_app.models import Target


class Status(models.TextChoices):
    QUEUED = "queued", "queued"
    RUNNING = "running", "running"
    SUCCEEDED = "succeeded", "succeeded"
    FAILED = "failed", "failed"
    CANCELLED = "cancelled", "cancelled"
    TIMEOUT = "timeout", "timeout"


TERMINAL_STATUSES = frozenset({Status.SUCCEEDED, Status.FAILED, Status.CANCELLED, Status.TIMEOUT})


class WebhookStatus(models.TextChoices):
    NONE = "", "none"
    PENDING = "pending", "pending"
    DELIVERING = "delivering", "delivering"
    DELIVERED = "delivered", "delivered"
    FAILED = "failed", "failed"


class WorkflowRun(models.Model):
    """A run id a caller chose (``X-Run-ID``), claimed by the first who used it.

    The unique row is the claim: two callers racing for one new run id cannot both get it.
    Run ids the control plane generates are unguessable and need no row.
    """

    run_id = models.CharField(max_length=64, unique=True)
    owner = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.run_id} ({self.owner})"


class Execution(models.Model):
    execution_id = models.CharField(max_length=64, unique=True)
    run_id = models.CharField(max_length=64, db_index=True)
    workflow_id = models.CharField(max_length=64, db_index=True)
    parent_execution_id = models.CharField(max_length=64, blank=True, default="", db_index=True)
    depth = models.PositiveIntegerField(default=0)

    target = models.ForeignKey(Target, on_delete=models.PROTECT, related_name="executions")
    target_name = models.CharField(max_length=401, help_text="<node_id>.<name> at call time")
    target_type = models.CharField(max_length=10)

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    status_reason = models.CharField(max_length=300, blank=True, default="")
    error_message = models.TextField(blank=True, default="")
    error_category = models.CharField(max_length=40, blank=True, default="")
    input = models.JSONField(default=dict)
    context = models.JSONField(default=dict, blank=True)
    result = models.JSONField(null=True, blank=True)

    # Who and from where: the provenance record is built from these columns.
    owner = models.CharField(max_length=100, db_index=True)
    actor_id = models.CharField(max_length=200, blank=True, default="")
    # An X-Actor-ID from a caller who may not delegate: kept as a claim, never as the actor.
    claimed_actor_id = models.CharField(max_length=200, blank=True, default="")
    session_id = models.CharField(max_length=100, blank=True, default="", db_index=True)
    caller_tags = models.JSONField(default=list, blank=True)
    target_tags = models.JSONField(default=list, blank=True)

    # Dispatch bookkeeping: which worker holds the call, until when, and how often it ran.
    attempts = models.PositiveIntegerField(default=0)
    claimed_by = models.CharField(max_length=200, blank=True, default="")
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    awaiting_callback = models.BooleanField(default=False)

    created_at = models.DateTimeField(auto_now_add=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True, db_index=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)

    provenance_signature = models.TextField(blank=True, default="")

    webhook_url = models.URLField(max_length=2000, blank=True, default="")
    webhook_secret = models.CharField(max_length=4096, blank=True, default="")
    webhook_headers = models.JSONField(default=dict, blank=True)
    webhook_status = models.CharField(
        max_length=12, choices=WebhookStatus.choices, blank=True, default=WebhookStatus.NONE
    )
    webhook_attempts = models.PositiveSmallIntegerField(default=0)
    webhook_last_error = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["status", "enqueued_at"], name="execution_status_enqueued")]

    def __str__(self) -> str:
        return f"{self.execution_id} {self.target_name} ({self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES
