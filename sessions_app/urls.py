from django.urls import path

from sessions_app import api, stream_api, views

api_urlpatterns = [
    path("session-targets", api.SessionTargetsView.as_view(), name="session-targets"),
    path(
        "session-targets/<str:target>/start", api.SessionStartView.as_view(), name="session-start"
    ),
    path(
        "session-targets/<str:target>/preflight",
        api.SessionPreflightView.as_view(),
        name="session-preflight",
    ),
    path("session-instances", api.SessionListView.as_view(), name="session-list"),
    path(
        "session-instances/<str:session_id>",
        api.SessionDetailView.as_view(),
        name="session-detail",
    ),
    path(
        "session-instances/<str:session_id>/end", api.SessionEndView.as_view(), name="session-end"
    ),
    path(
        "session-instances/<str:session_id>/events",
        api.SessionEventsView.as_view(),
        name="session-events",
    ),
    path(
        "session-instances/<str:session_id>/events/stream",
        stream_api.SessionEventStreamView.as_view(),
        name="session-events-stream",
    ),
    path(
        "session-instances/<str:session_id>/turns",
        api.SessionTurnView.as_view(),
        name="session-turns",
    ),
    path(
        "session-instances/<str:session_id>/realtime-offer",
        api.SessionRealtimeOfferView.as_view(),
        name="session-realtime-offer",
    ),
    path(
        "session-instances/<str:session_id>/tools/<str:tool>",
        api.SessionToolView.as_view(),
        name="session-tool",
    ),
]

page_urlpatterns = [
    path("", views.overview, name="overview"),
    path("sessions/", views.sessions_list, name="sessions"),
    path("sessions/<str:target>/", views.voice_page, name="voice-page"),
    path("session-instances/<str:session_id>/", views.session_replay, name="session-replay"),
]
