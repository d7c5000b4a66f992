"""WebSocket routes of every app, gathered for the ASGI router."""

from sessions_app.routing import websocket_urlpatterns as session_routes

websocket_urlpatterns: list = [*session_routes]
