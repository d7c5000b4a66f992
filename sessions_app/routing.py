"""WebSocket routes of the sessions app."""

from django.urls import path

from sessions_app.consumers import AgentLinkConsumer
from sessions_app.transports.websocket import RealtimeConsumer

websocket_urlpatterns = [
    path(
        "api/v1/session-instances/<str:session_id>/realtime",
        RealtimeConsumer.as_asgi(),
        name="session-realtime",
    ),
    path("api/v1/nodes/<str:node_id>/link", AgentLinkConsumer.as_asgi(), name="agent-link"),
]
