"""Input serializers of the access API (the output ones are in ``api_shapes``)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from access_app.access import CONSTRAINT_OPERATORS
from access_app.models import PolicyAction
from access_app.tags import normalize_tags
from foundation.errors import ApiError
from foundation.serializers import StrictSerializer

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


class TagDecisionChangeInSerializer(StrictSerializer):
    """Our own ``POST /admin/agents/<id>/tag-decision``: revoke an approved tag of one
    target (``rejected``) or approve a rejected one (``approved``), with a reason."""

    target = serializers.CharField(max_length=200, help_text="The target's name on the node.")
    kind = serializers.ChoiceField(
        choices=["reasoner", "skill", "session"],
        required=False,
        help_text="Needed only when a reasoner and a skill share the name.",
    )
    tag = serializers.CharField(max_length=200)
    decision = serializers.ChoiceField(choices=["approved", "rejected"])
    reason = serializers.CharField(max_length=2000)

    def validate_tag(self, value: str) -> str:
        tags = normalize_tags([value])
        if not tags:
            raise serializers.ValidationError("This field may not be blank.")
        return tags[0]


# --- Policies ------------------------------------------------------------------------------


@extend_schema_field({"type": "string", "enum": ["allow", "deny"]})
class PolicyActionField(serializers.CharField):
    """Checked once every field is valid (``PolicyInSerializer.validate``), with
    upstream's own error body for a bad action."""


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

    def validate(self, attrs):
        if attrs["action"] not in PolicyAction.values:
            raise ApiError(400, "invalid_action", "Action must be 'allow' or 'deny'")
        return attrs
