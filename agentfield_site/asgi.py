"""ASGI entry point: HTTP to Django, WebSockets to Channels (origin check, then auth)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agentfield_site.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from access_app.ws_auth import PrincipalMiddlewareStack, origin_validator  # noqa: E402
from agentfield_site.routing import websocket_urlpatterns  # noqa: E402
from foundation.request_guard import asgi_body_limit  # noqa: E402
from foundation.request_threads import request_threads  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": request_threads(
            asgi_body_limit(django_asgi_app), slots=settings.AGENTFIELD_WEB_THREADS
        ),
        "websocket": origin_validator(PrincipalMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
