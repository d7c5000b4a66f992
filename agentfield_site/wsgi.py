"""WSGI entry point, for tools that want one; the served app is ``asgi.application``."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agentfield_site.settings")
application = get_wsgi_application()
