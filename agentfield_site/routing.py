"""WebSocket routes of every app, gathered for the ASGI router."""

from channels.generic.websocket import AsyncWebsocketConsumer
from django.urls import re_path

from sessions_app.routing import websocket_urlpatterns as session_routes


class UnknownPathConsumer(AsyncWebsocketConsumer):
    """Any other path (upstream SDKs open ``/api/v1/memory/events/ws``): refused during the
    handshake, which daphne answers 403, instead of the router's 500 and traceback."""

    async def connect(self) -> None:
        await self.close()


websocket_urlpatterns: list = [*session_routes, re_path(r"", UnknownPathConsumer.as_asgi())]
