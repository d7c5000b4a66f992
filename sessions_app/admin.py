"""Sessions and their replay log in the Django admin: records, read-only.

Session targets are ``access_app.Target`` rows (kind ``session``), in that app's admin.
A session's events are listed on its page (the first ones) and in their own list,
filtered by session.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from access_app.admin_common import ReadOnlyAdmin, tag_list
from sessions_app.models import AgentLink, SessionEvent, SessionInstance

EVENTS_ON_THE_PAGE = 50


def _session_events_url(session: SessionInstance) -> str:
    query = urlencode({"session__id__exact": session.pk})
    return f"{reverse('admin:sessions_app_sessionevent_changelist')}?{query}"


def _executions_url(session_id: str) -> str:
    query = urlencode({"session_id": session_id})
    return f"{reverse('admin:executions_app_execution_changelist')}?{query}"


@admin.register(SessionInstance)
class SessionInstanceAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = (
        "session_id",
        "target_name",
        "status",
        "transport",
        "provider",
        "owner_label",
        "created_at",
        "ended_at",
        "turns",
        "tool_calls",
    )
    list_filter = ("status", "transport", "provider", "media", "handler", "created_at")
    search_fields = ("session_id", "target_name", "node_id", "owner", "owner_name")
    date_hierarchy = "created_at"
    ordering = ("-created_at",)
    exclude = ("client_secret_hash",)
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "session_id",
                    "links",
                    "target",
                    "target_name",
                    "node_id",
                    "status",
                    "end_reason",
                )
            },
        ),
        ("Caller", {"fields": ("owner", "owner_name", "caller_tag_list", "session_tag_list")}),
        (
            "Call",
            {
                "fields": (
                    "provider",
                    "transport",
                    "media",
                    "model",
                    "voice",
                    "modalities",
                    "handler",
                    "instructions",
                    "turn_detection",
                    "tool_targets",
                    "metadata",
                )
            },
        ),
        (
            "Time and usage",
            {
                "fields": (
                    "created_at",
                    "connected_at",
                    "ended_at",
                    "expires_at",
                    "client_secret_expires_at",
                    "last_seen_at",
                    "turns",
                    "tool_calls",
                    "audio_in_ms",
                    "audio_out_ms",
                )
            },
        ),
        ("Events", {"fields": ("event_table",)}),
    )

    def get_readonly_fields(self, request, obj=None):
        return [
            *(f.name for f in SessionInstance._meta.fields if f.name != "client_secret_hash"),
            "links",
            "caller_tag_list",
            "session_tag_list",
            "event_table",
        ]

    @admin.display(description="owner", ordering="owner_name")
    def owner_label(self, session: SessionInstance) -> str:
        return session.owner_name or session.owner

    @admin.display(description="caller tags")
    def caller_tag_list(self, session: SessionInstance) -> str:
        return tag_list(session.caller_tags)

    @admin.display(description="session tags (its tool calls' caller tags)")
    def session_tag_list(self, session: SessionInstance) -> str:
        return tag_list(session.tags)

    @admin.display(description="see also")
    def links(self, session: SessionInstance) -> str:
        return format_html(
            '<a href="{}">replay page</a> · <a href="{}">events</a> · <a href="{}">executions</a>',
            reverse("session-replay", args=[session.session_id]),
            _session_events_url(session),
            _executions_url(session.session_id),
        )

    @admin.display(description="events")
    def event_table(self, session: SessionInstance) -> str:
        events = list(session.events.order_by("id")[: EVENTS_ON_THE_PAGE + 1])
        if not events:
            return "none"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (e.pk, e.at.strftime("%H:%M:%S.%f")[:-3], e.type, e.execution_id or "")
                for e in events[:EVENTS_ON_THE_PAGE]
            ),
        )
        more = ""
        if len(events) > EVENTS_ON_THE_PAGE:
            more = format_html(
                '<p><a href="{}">all {} events</a></p>',
                _session_events_url(session),
                session.events.count(),
            )
        return format_html(
            "<table><thead><tr><th>seq</th><th>at</th><th>type</th><th>execution</th></tr>"
            "</thead><tbody>{}</tbody></table>{}",
            rows,
            more,
        )


@admin.register(SessionEvent)
class SessionEventAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = ("id", "session_link", "type", "at", "execution_id")
    list_display_links = ("id",)
    list_filter = ("type",)
    search_fields = ("session__session_id", "type", "execution_id")
    list_select_related = ("session",)
    readonly_fields = ("session", "type", "at", "data", "execution_id")

    @admin.display(description="session", ordering="session__session_id")
    def session_link(self, event: SessionEvent) -> str:
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:sessions_app_sessioninstance_change", args=[event.session_id]),
            event.session.session_id,
        )


@admin.register(AgentLink)
class AgentLinkAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    """Which agent nodes hold an open agent link now (kept by the link itself)."""

    list_display = ("node", "channel_name", "connected_at", "last_seen_at")
    search_fields = ("node__node_id",)
    readonly_fields = ("node", "channel_name", "connected_at", "last_seen_at")
