"""Output serializers of the access API: one class per shape, which both renders the body
and documents it in the OpenAPI schema.

Plain ``serializers.Serializer`` classes with explicit fields (no model introspection per
request), except the admin-only policy, which is its model's fields. A node's targets come
from ``live_targets`` (``selectors._with_targets`` prefetches them with their proposed
tags), so rendering adds no query.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from access_app.models import AccessPolicy, AgentNode, NodeStatus, TagStatus, Target, TargetKind


def _tags() -> serializers.ListField:
    return serializers.ListField(child=serializers.CharField())


def _live_targets(node: AgentNode) -> list[Target]:
    targets = getattr(node, "live_targets", None)
    if targets is None:
        targets = list(node.targets.filter(active=True).prefetch_related("tag_rows"))
        node.live_targets = targets
    return targets


def _proposed(target: Target, status: str | None) -> set[str]:
    return {
        row.tag
        for row in target.tag_rows.all()
        if row.proposed and (status is None or row.status == status)
    }


class _TargetTags(serializers.ListField):
    """A target's proposed tags: all of them, or those with ``status``; sorted."""

    def __init__(self, status: str | None = None, **kwargs: Any) -> None:
        self.status = status
        super().__init__(child=serializers.CharField(), source="*", read_only=True, **kwargs)

    def to_representation(self, target: Target) -> list[str]:
        return sorted(_proposed(target, self.status))


class _NodeTags(_TargetTags):
    """The union of a node's live targets' proposed tags (with ``status``); sorted."""

    def to_representation(self, node: AgentNode) -> list[str]:
        return sorted({tag for t in _live_targets(node) for tag in _proposed(t, self.status)})


class PrincipalOutSerializer(serializers.Serializer):
    id = serializers.CharField()
    role = serializers.CharField()
    name = serializers.CharField()
    tags = _tags()
    node_id = serializers.CharField()


class ApiKeyOutSerializer(serializers.Serializer):
    name = serializers.CharField()
    prefix = serializers.CharField()
    role = serializers.CharField()
    tags = _tags()
    node_id = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)


class ApiKeyListOutSerializer(serializers.Serializer):
    keys = ApiKeyOutSerializer(many=True)
    total = serializers.IntegerField()


# --- Registry ------------------------------------------------------------------------------


class TargetOutSerializer(serializers.Serializer):
    """A reasoner, skill or session; the target's own definition fields come after these
    (a session's never replace them)."""

    id = serializers.CharField(source="name")
    kind = serializers.CharField()
    target = serializers.CharField(source="full_name")
    proposed_tags = _TargetTags()
    approved_tags = _TargetTags(TagStatus.APPROVED)
    pending_tags = _TargetTags(TagStatus.PENDING)
    rejected_tags = _TargetTags(TagStatus.REJECTED)
    callable = serializers.SerializerMethodField()

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_callable(self, target: Target) -> bool:
        return target.approval == TagStatus.APPROVED

    def to_representation(self, target: Target) -> dict[str, Any]:
        body = dict(super().to_representation(target))
        if target.kind == TargetKind.SESSION:
            body.update({k: v for k, v in target.definition.items() if k not in body})
        else:
            body.update(target.definition)
        return body


class _TargetsOfKind(serializers.ListSerializer):
    """A node's live targets of one kind."""

    def __init__(self, kind: str, **kwargs: Any) -> None:
        self.kind = kind
        super().__init__(child=TargetOutSerializer(), source="*", read_only=True, **kwargs)

    def get_attribute(self, node: AgentNode) -> list[Target]:
        return [t for t in _live_targets(node) if t.kind == self.kind]


class ComponentsOutSerializer(serializers.Serializer):
    reasoners = _TargetsOfKind(TargetKind.REASONER)
    skills = _TargetsOfKind(TargetKind.SKILL)
    sessions = _TargetsOfKind(TargetKind.SESSION)


class NodeOutSerializer(serializers.Serializer):
    id = serializers.CharField(source="node_id")
    base_url = serializers.CharField()
    version = serializers.CharField()
    instance_id = serializers.CharField()
    status = serializers.CharField()
    # upstream's name for the same state; upstream SDKs poll it while awaiting approval
    lifecycle_status = serializers.CharField(source="status")
    proposed_tags = _NodeTags()
    approved_tags = _NodeTags(TagStatus.APPROVED)
    pending_tags = _NodeTags(TagStatus.PENDING)
    registered_at = serializers.DateTimeField()
    last_heartbeat = serializers.DateTimeField(allow_null=True)
    reasoners = _TargetsOfKind(TargetKind.REASONER)
    skills = _TargetsOfKind(TargetKind.SKILL)
    sessions = _TargetsOfKind(TargetKind.SESSION)


class NodeListOutSerializer(serializers.Serializer):
    nodes = NodeOutSerializer(many=True)
    total = serializers.IntegerField()


class AdminAgentOutSerializer(serializers.Serializer):
    agent_id = serializers.CharField(source="node_id")
    proposed_tags = _NodeTags()
    approved_tags = _NodeTags(TagStatus.APPROVED)
    status = serializers.CharField()
    registered_at = serializers.DateTimeField()
    components = ComponentsOutSerializer(source="*")


class AdminAgentListOutSerializer(serializers.Serializer):
    agents = AdminAgentOutSerializer(many=True)
    total = serializers.IntegerField()


# --- Acknowledgements: ``success`` and ``message`` first, as upstream's bodies -------------


class SuccessOutSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    message = serializers.CharField()


def acknowledged(shape: type[SuccessOutSerializer], message: str, **fields: Any) -> dict:
    """The body ``{"success": true, "message": message, ...}`` rendered by ``shape``."""
    return shape({"success": True, "message": message, **fields}).data


# Rendered from the node and the result's tag lists: the registration's hot path.
class NodeRegisterOutSerializer(SuccessOutSerializer):
    node_id = serializers.CharField(source="node.node_id")
    status = serializers.SerializerMethodField()
    pending_tags = _tags()
    approved_tags = _tags()
    dispatch_token = serializers.CharField(source="node.dispatch_token")

    @extend_schema_field({"type": "string", "enum": ["ready", "pending_approval"]})
    def get_status(self, body: dict) -> str:
        pending = body["node"].status == NodeStatus.PENDING_APPROVAL
        return "pending_approval" if pending else "ready"


class HeartbeatOutSerializer(SuccessOutSerializer):
    timestamp = serializers.DateTimeField()


class ShutdownOutSerializer(SuccessOutSerializer):
    node_id = serializers.CharField(source="node.node_id")
    lifecycle_status = serializers.CharField(source="node.status")


class ApproveTagsOutSerializer(SuccessOutSerializer):
    agent_id = serializers.CharField()
    approved_tags = _tags()


class RejectTagsOutSerializer(SuccessOutSerializer):
    agent_id = serializers.CharField()
    rejected_tags = _tags()


class TagDecisionChangeOutSerializer(SuccessOutSerializer):
    agent_id = serializers.CharField()
    target = serializers.CharField(help_text="`<node_id>.<name>`")
    kind = serializers.CharField()
    tag = serializers.CharField()
    status = serializers.ChoiceField(choices=["approved", "rejected"])
    changed = serializers.BooleanField(help_text="False when the tag already had it.")
    callable = serializers.BooleanField()


# --- Access policies -----------------------------------------------------------------------


class PolicyOutSerializer(serializers.ModelSerializer):
    class Meta:
        model = AccessPolicy
        fields = ["id", *AccessPolicy.EDITABLE_FIELDS, "created_at", "updated_at"]


class PolicyListOutSerializer(serializers.Serializer):
    policies = PolicyOutSerializer(many=True)
    total = serializers.IntegerField()
