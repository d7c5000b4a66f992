"""API views for callers and keys."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from access_app import selectors
from access_app.permissions import IsAdmin
from access_app.serializers import ApiKeyOutSerializer, PrincipalOutSerializer


class MeView(APIView):
    """Who the presented credentials act as."""

    @extend_schema(responses=PrincipalOutSerializer)
    def get(self, request):
        return Response(PrincipalOutSerializer(request.user).data)


class ApiKeyListView(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(responses=ApiKeyOutSerializer(many=True))
    def get(self, request):
        keys = selectors.api_keys_list()
        return Response({"keys": ApiKeyOutSerializer(keys, many=True).data, "total": len(keys)})
