"""Input (strict) and output serializers of the access API."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from access_app.access import CONSTRAINT_OPERATORS
from access_app.models import AccessPolicy, AgentNode, TagStatus, Target, TargetKind
from access_app.tags import normalize_tags
from foundation.serializers import StrictSerializer


class PrincipalOutSerializer(serializers.Serializer):
    id = serializers.CharField()
    role = serializers.CharField()
    name = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())
    node_id = serializers.CharField()


class ApiKeyOutSerializer(serializers.Serializer):
    name = serializers.CharField()
    prefix = serializers.CharField()
    role = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())
    node_id = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)


# --- Registration --------------------------------------------------------------------------


class ComponentInSerializer(serializers.Serializer):
    """A reasoner or skill as the SDKs send it; extra upstream fields are ignored."""

    id = serializers.CharField(max_length=200)
    tags = serializers.ListField(child=serializers.CharField(max_length=200), required=False)
    proposed_tags = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False
    )
    description = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    input_schema = serializers.JSONField(required=False, allow_null=True)
    output_schema = serializers.JSONField(required=False, allow_null=True)


class NodeRegisterInSerializer(serializers.Serializer):
    """Upstream's AgentNode body. Unknown fields are accepted and ignored on purpose:
    upstream SDKs send many (team_id, features, communication_config, ...)."""

    id = serializers.RegexField(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,199}$", max_length=200)
    base_url = serializers.URLField(max_length=500)
    version = serializers.CharField(required=False, allow_blank=True, max_length=100)
    instance_id = serializers.CharField(required=False, allow_blank=True, max_length=200)
    proposed_tags = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False
    )
    reasoners = ComponentInSerializer(many=True, required=False)
    skills = ComponentInSerializer(many=True, required=False)
    sessions = serializers.ListField(child=serializers.DictField(), required=False)
    metadata = serializers.DictField(required=False)


class NodeRegisterOutSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    message = serializers.CharField()
    node_id = serializers.CharField()
    status = serializers.ChoiceField(choices=["ready", "pending_approval"])
    pending_tags = serializers.ListField(child=serializers.CharField())
    approved_tags = serializers.ListField(child=serializers.CharField())
    dispatch_token = serializers.CharField()


class HeartbeatInSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=["starting", "ready", "degraded", "offline"], required=False
    )
    version = serializers.CharField(required=False, allow_blank=True)
    instance_id = serializers.CharField(required=False, allow_blank=True)


class ShutdownInSerializer(StrictSerializer):
    """Upstream's ``POST /nodes/<id>/shutdown`` body (the SDK sends it, or nothing)."""

    reason = serializers.CharField(required=False, allow_blank=True, max_length=300)
    timeout_seconds = serializers.FloatField(required=False, min_value=0)


def _tags_by_status(target: Target) -> dict[str, list[str]]:
    rows = [row for row in target.tag_rows.all() if row.proposed]
    by = {status: sorted(r.tag for r in rows if r.status == status) for status in TagStatus.values}
    return {
        "proposed_tags": sorted(r.tag for r in rows),
        "approved_tags": by[TagStatus.APPROVED],
        "pending_tags": by[TagStatus.PENDING],
        "rejected_tags": by[TagStatus.REJECTED],
    }


def target_out(target: Target) -> dict:
    tags = _tags_by_status(target)
    body: dict = {
        "id": target.name,
        "kind": target.kind,
        "target": target.full_name,
        **tags,
        "callable": target.approval == TagStatus.APPROVED,
    }
    if target.kind == TargetKind.SESSION:
        body.update({k: v for k, v in target.definition.items() if k not in body})
    else:
        body.update(target.definition)
    return body


def _components(node: AgentNode) -> dict[str, list[dict]]:
    targets = getattr(node, "live_targets", None)
    if targets is None:
        targets = list(node.targets.filter(active=True).prefetch_related("tag_rows"))
    return {
        plural: [target_out(t) for t in targets if t.kind == kind]
        for plural, kind in (
            ("reasoners", TargetKind.REASONER),
            ("skills", TargetKind.SKILL),
            ("sessions", TargetKind.SESSION),
        )
    }


def _union(components: dict[str, list[dict]], field: str) -> list[str]:
    return sorted({tag for items in components.values() for item in items for tag in item[field]})


def node_out(node: AgentNode) -> dict:
    components = _components(node)
    return {
        "id": node.node_id,
        "base_url": node.base_url,
        "version": node.version,
        "instance_id": node.instance_id,
        "status": node.status,
        # upstream's name for the same state; upstream SDKs poll it while awaiting approval
        "lifecycle_status": node.status,
        "proposed_tags": _union(components, "proposed_tags"),
        "approved_tags": _union(components, "approved_tags"),
        "pending_tags": _union(components, "pending_tags"),
        "registered_at": node.registered_at,
        "last_heartbeat": node.last_heartbeat,
        **components,
    }


def admin_agent_out(node: AgentNode) -> dict:
    components = _components(node)
    return {
        "agent_id": node.node_id,
        "proposed_tags": _union(components, "proposed_tags"),
        "approved_tags": _union(components, "approved_tags"),
        "status": node.status,
        "registered_at": node.registered_at,
        "components": components,
    }


class TagListField(serializers.ListField):
    child = serializers.CharField(max_length=200)

    def to_internal_value(self, data):
        return normalize_tags(super().to_internal_value(data))


class ApproveTagsInSerializer(StrictSerializer):
    approved_tags = TagListField()
    session_tags = serializers.DictField(child=TagListField(), required=False)
    reasoner_tags = serializers.DictField(child=TagListField(), required=False)
    skill_tags = serializers.DictField(child=TagListField(), required=False)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class RejectTagsInSerializer(StrictSerializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)


# --- Policies ------------------------------------------------------------------------------


@extend_schema_field({"type": "string", "enum": ["allow", "deny"]})
class PolicyActionField(serializers.CharField):
    """Checked in the view, which keeps upstream's error body for a bad action."""


class PolicyInSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200)
    caller_tags = TagListField()
    target_tags = TagListField()
    allow_functions = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False
    )
    deny_functions = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False
    )
    constraints = serializers.DictField(child=serializers.DictField(), required=False)
    action = PolicyActionField()
    priority = serializers.IntegerField(required=False, min_value=-1_000_000, max_value=1_000_000)
    enabled = serializers.BooleanField(required=False)
    description = serializers.CharField(required=False, allow_blank=True, max_length=2000)

    def validate_constraints(self, value):
        for param, rule in value.items():
            if set(rule) != {"operator", "value"} or rule["operator"] not in CONSTRAINT_OPERATORS:
                raise serializers.ValidationError(
                    f"constraint {param!r} must be {{operator, value}} with operator one of "
                    + ", ".join(CONSTRAINT_OPERATORS)
                )
        return value


class PolicyOutSerializer(serializers.ModelSerializer):
    class Meta:
        model = AccessPolicy
        fields = ["id", *AccessPolicy.EDITABLE_FIELDS, "created_at", "updated_at"]
