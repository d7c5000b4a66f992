"""The project's routes plus ``GET /__bench__/floor``: a bare Django view, the floor that
``bench/serving.py`` compares every path with (same server, same middleware)."""

from django.http import JsonResponse
from django.urls import path

from agentfield_site.urls import handler400, handler404, handler500
from agentfield_site.urls import urlpatterns as project

__all__ = ["handler400", "handler404", "handler500", "urlpatterns"]


def floor(request):
    return JsonResponse({"ok": True})


urlpatterns = [path("__bench__/floor", floor), *project]
