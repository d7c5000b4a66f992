"""Server-rendered pages."""

from __future__ import annotations

from django.shortcuts import render


def overview(request):
    return render(request, "overview.html")
