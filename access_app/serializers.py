from rest_framework import serializers


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
