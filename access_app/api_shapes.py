"""Response shapes of the access API, for the OpenAPI document.

The views build their bodies (``node_out`` and friends); the schema test checks every
response against these, so the two cannot drift apart unnoticed.
"""

from __future__ import annotations

from rest_framework import serializers

from access_app.serializers import ApiKeyOutSerializer, PolicyOutSerializer


def _tags() -> serializers.ListField:
    return serializers.ListField(child=serializers.CharField())


class TargetOutSerializer(serializers.Serializer):
    """A reasoner, skill or session; a target's own definition fields come beside these."""

    id = serializers.CharField()
    kind = serializers.CharField()
    target = serializers.CharField()
    proposed_tags = _tags()
    approved_tags = _tags()
    pending_tags = _tags()
    rejected_tags = _tags()
    callable = serializers.BooleanField()


class _Components(serializers.Serializer):
    reasoners = TargetOutSerializer(many=True)
    skills = TargetOutSerializer(many=True)
    sessions = TargetOutSerializer(many=True)


class NodeOutSerializer(_Components):
    id = serializers.CharField()
    base_url = serializers.CharField()
    version = serializers.CharField()
    instance_id = serializers.CharField()
    status = serializers.CharField()
    lifecycle_status = serializers.CharField()
    proposed_tags = _tags()
    approved_tags = _tags()
    pending_tags = _tags()
    registered_at = serializers.DateTimeField()
    last_heartbeat = serializers.DateTimeField(allow_null=True)


class NodeListOutSerializer(serializers.Serializer):
    nodes = NodeOutSerializer(many=True)
    total = serializers.IntegerField()


class AdminAgentOutSerializer(serializers.Serializer):
    agent_id = serializers.CharField()
    proposed_tags = _tags()
    approved_tags = _tags()
    status = serializers.CharField()
    registered_at = serializers.DateTimeField()
    components = _Components()


class AdminAgentListOutSerializer(serializers.Serializer):
    agents = AdminAgentOutSerializer(many=True)
    total = serializers.IntegerField()


class ApiKeyListOutSerializer(serializers.Serializer):
    keys = ApiKeyOutSerializer(many=True)
    total = serializers.IntegerField()


class PolicyListOutSerializer(serializers.Serializer):
    policies = PolicyOutSerializer(many=True)
    total = serializers.IntegerField()


class SuccessOutSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    message = serializers.CharField()


class HeartbeatOutSerializer(SuccessOutSerializer):
    timestamp = serializers.DateTimeField()


class ShutdownOutSerializer(SuccessOutSerializer):
    node_id = serializers.CharField()
    lifecycle_status = serializers.CharField()


class ApproveTagsOutSerializer(SuccessOutSerializer):
    agent_id = serializers.CharField()
    approved_tags = _tags()


class RejectTagsOutSerializer(SuccessOutSerializer):
    agent_id = serializers.CharField()
    rejected_tags = _tags()
