"""Callers (API keys, browser users' profiles)."""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings
from django.db import models


class Role(models.TextChoices):
    ADMIN = "admin", "admin"
    CALLER = "caller", "caller"
    AGENT = "agent", "agent"


def hash_secret(secret: str) -> str:
    """API keys are 256-bit random tokens, so one SHA-256 is enough (no stretching)."""
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKey(models.Model):
    """A hashed API key. The visible ``prefix`` finds the row; the hash proves the key."""

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    role = models.CharField(max_length=10, choices=Role.choices)
    tags = models.JSONField(default=list, blank=True, help_text="Caller tags.")
    node_id = models.CharField(
        max_length=200, blank=True, default="", help_text="Agent keys only: the node it may act as."
    )
    # True when the key bound itself by registering a new node id (decision 0015), False
    # when an admin bound it. A key an admin bound to the node id supersedes a claim.
    node_claimed = models.BooleanField(
        default=False, help_text="Bound by its own first registration, not by an admin."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…, {self.role})"

    def matches(self, secret: str) -> bool:
        return hmac.compare_digest(self.key_hash, hash_secret(secret))


class CallerProfile(models.Model):
    """A browser user's caller tags, edited in the Django admin."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="caller_profile"
    )
    tags = models.JSONField(default=list, blank=True, help_text="Caller tags.")

    def __str__(self) -> str:
        return f"caller profile of {self.user}"


# --- The registry: agent nodes and their targets ------------------------------------------


class NodeStatus(models.TextChoices):
    READY = "ready", "ready"
    PENDING_APPROVAL = "pending_approval", "pending approval"
    DEGRADED = "degraded", "degraded"
    OFFLINE = "offline", "offline"


class AgentNode(models.Model):
    node_id = models.CharField(max_length=200, unique=True)
    base_url = models.URLField(max_length=500)
    version = models.CharField(max_length=100, blank=True, default="")
    instance_id = models.CharField(max_length=200, blank=True, default="")
    proposed_tags = models.JSONField(default=list, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=20, choices=NodeStatus.choices, default=NodeStatus.PENDING_APPROVAL
    )
    # The node reports health in heartbeats; approval state is derived from its targets.
    reported_status = models.CharField(max_length=20, blank=True, default="")
    # Sent by the control plane on every call to the node, so it is kept in the clear,
    # like a provider key; it changes at every registration.
    dispatch_token = models.CharField(max_length=100)
    owner = models.CharField(
        max_length=100,
        help_text="Principal of the latest accepted registration. Who may act as the node "
        "is decided by API key bindings (decision 0015), never by this field.",
    )
    registered_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_heartbeat = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["node_id"]

    def __str__(self) -> str:
        return self.node_id


class TargetKind(models.TextChoices):
    REASONER = "reasoner", "reasoner"
    SKILL = "skill", "skill"
    SESSION = "session", "session"


class TagStatus(models.TextChoices):
    PENDING = "pending", "pending"
    APPROVED = "approved", "approved"
    REJECTED = "rejected", "rejected"


class Target(models.Model):
    """A reasoner, skill or session of a node: ``<node_id>.<name>``."""

    node = models.ForeignKey(AgentNode, on_delete=models.CASCADE, related_name="targets")
    kind = models.CharField(max_length=10, choices=TargetKind.choices)
    name = models.CharField(max_length=200)
    definition = models.JSONField(default=dict, blank=True)
    # False once a re-registration no longer declares it; kept for history and executions.
    active = models.BooleanField(default=True)
    # Derived from the tag rows by ``target_refresh_approval`` whenever they change, so the
    # hot path (every execution and tool call) reads one row instead of all its tags.
    approval = models.CharField(max_length=10, default="pending")
    approved_tags = models.JSONField(default=list, blank=True)
    # What a caller or the model can reach through the target (``access_app.reach``), as
    # registered now and as last approved; a difference puts the definition up for review.
    reach = models.JSONField(default=dict, blank=True)
    approved_reach = models.JSONField(null=True, blank=True)
    definition_status = models.CharField(
        max_length=10, choices=TagStatus.choices, default=TagStatus.PENDING
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["node__node_id", "kind", "name"]
        constraints = [
            models.UniqueConstraint(fields=["node", "kind", "name"], name="unique_target_per_kind")
        ]

    def __str__(self) -> str:
        return f"{self.node.node_id}.{self.name} ({self.kind})"

    @property
    def full_name(self) -> str:
        return f"{self.node.node_id}.{self.name}"


class TargetTag(models.Model):
    """One tag a target proposes or once proposed, with its approval state. A tag the
    latest registration dropped keeps its row (``proposed`` false), so its decision is
    remembered when the tag comes back."""

    target = models.ForeignKey(Target, on_delete=models.CASCADE, related_name="tag_rows")
    tag = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=TagStatus.choices, default=TagStatus.PENDING)
    proposed = models.BooleanField(default=True)
    decided_by = models.CharField(max_length=150, blank=True, default="")
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["target_id", "tag"]
        constraints = [models.UniqueConstraint(fields=["target", "tag"], name="unique_target_tag")]

    def __str__(self) -> str:
        return f"{self.target}: {self.tag} ({self.status})"


class TagDecision(models.Model):
    """The audit trail: who decided what about which tag, when and why."""

    target = models.ForeignKey(Target, on_delete=models.CASCADE, related_name="decisions")
    tag = models.CharField(max_length=200)
    decision = models.CharField(max_length=10, choices=TagStatus.choices)
    actor = models.CharField(max_length=150)
    reason = models.TextField(blank=True, default="")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.actor} {self.decision} {self.tag} on {self.target}"


class TagRuleMode(models.TextChoices):
    AUTO = "auto", "auto-approve"
    MANUAL = "manual", "needs approval"
    FORBIDDEN = "forbidden", "forbidden"


class TagRule(models.Model):
    """How a proposed tag is treated: ``*``, ``prefix*``, ``*suffix`` or an exact tag."""

    pattern = models.CharField(max_length=200, unique=True)
    mode = models.CharField(max_length=10, choices=TagRuleMode.choices)
    reason = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pattern"]

    def __str__(self) -> str:
        return f"{self.pattern} -> {self.mode}"


# --- Access policies -----------------------------------------------------------------------


class PolicyAction(models.TextChoices):
    ALLOW = "allow", "allow"
    DENY = "deny", "deny"


class AccessPolicy(models.Model):
    # What the admin API may set (upstream's AccessPolicyRequest).
    EDITABLE_FIELDS = (
        "name",
        "caller_tags",
        "target_tags",
        "allow_functions",
        "deny_functions",
        "constraints",
        "action",
        "priority",
        "enabled",
        "description",
    )

    name = models.CharField(max_length=200, unique=True)
    caller_tags = models.JSONField(default=list, blank=True)
    target_tags = models.JSONField(default=list, blank=True)
    allow_functions = models.JSONField(default=list, blank=True)
    deny_functions = models.JSONField(default=list, blank=True)
    constraints = models.JSONField(default=dict, blank=True)
    action = models.CharField(max_length=5, choices=PolicyAction.choices)
    priority = models.IntegerField(default=0)
    enabled = models.BooleanField(default=True)
    description = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-priority", "id"]
        verbose_name_plural = "access policies"

    def __str__(self) -> str:
        return f"{self.name} ({self.action}, priority {self.priority})"


class AccessVersion(models.Model):
    """One row whose ``token`` changes whenever a table the access decision reads changes.

    Database triggers (migration 0004) write a fresh random token on every insert, update,
    delete and truncate of targets, target tags, policies and nodes (heartbeat columns
    aside), so no write path can skip it: services, the Django admin, a bulk ``update()``,
    SQL by hand. Processes cache those reads under the token (``access_app.read_cache``).
    """

    token = models.CharField(max_length=64)

    def __str__(self) -> str:
        return self.token
