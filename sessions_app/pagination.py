"""Paging of the session routes' lists, as DRF paginators: the list views hand them the
selector's queryset and they cut the page and wrap the body."""

from __future__ import annotations

from typing import Any

from rest_framework.pagination import BasePagination
from rest_framework.response import Response

from sessions_app.serializers import EventsInSerializer

SESSIONS_PAGE_SIZE = 50


class SessionPagination(BasePagination):
    """``?page=N`` (1-based) of ``SESSIONS_PAGE_SIZE``; the list view has validated the
    query (``view.query``) with its filters. Past the end is an empty page, not a 404."""

    def paginate_queryset(self, queryset, request, view=None) -> list:
        self.page = view.query["page"]
        self.total = queryset.count()
        start = (self.page - 1) * SESSIONS_PAGE_SIZE
        return list(queryset[start : start + SESSIONS_PAGE_SIZE])

    def get_paginated_response(self, data) -> Response:
        has_next = self.page * SESSIONS_PAGE_SIZE < self.total
        body = {"sessions": data, "total": self.total, "page": self.page, "has_next": has_next}
        return Response(body)

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return _object(
            sessions=schema,
            total={"type": "integer", "example": 1},
            page={"type": "integer", "example": 1},
            has_next={"type": "boolean", "example": False},
        )


class EventPagination(BasePagination):
    """The replay log after ``?after=<seq>``, at most ``?limit`` events; ``next_after`` is
    the ``after`` of the next page."""

    def paginate_queryset(self, queryset, request, view=None) -> list:
        query = EventsInSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        self.after = query.validated_data["after"]
        events = list(queryset.filter(id__gt=self.after)[: query.validated_data["limit"]])
        self.next_after = events[-1].pk if events else self.after
        return events

    def get_paginated_response(self, data) -> Response:
        return Response({"events": data, "next_after": self.next_after})

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return _object(events=schema, next_after={"type": "integer", "example": 41})


def _object(**properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": list(properties), "properties": properties}
