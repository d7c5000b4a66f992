"""Reads for callers."""

from __future__ import annotations

from django.db.models import QuerySet

from access_app.models import ApiKey


def api_keys_list() -> QuerySet[ApiKey]:
    return ApiKey.objects.order_by("-created_at")
