import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_the_openapi_document_lists_the_routes(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/v1/me" in paths
    assert "/api/v1/admin/api-keys" in paths


@pytest.mark.django_db
def test_every_api_route_is_in_the_openapi_document(client):
    from django.urls import get_resolver

    def routes(patterns, prefix=""):
        for pattern in patterns:
            if hasattr(pattern, "url_patterns"):
                yield from routes(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                yield prefix + str(pattern.pattern)

    api_routes = {r for r in routes(get_resolver().url_patterns) if r.startswith("api/v1/")}
    documented = set(client.get("/api/schema/", HTTP_ACCEPT="application/json").json()["paths"])
    normalized = {
        "/" + route.replace("<str:", "{").replace("<int:", "{").replace(">", "}")
        for route in api_routes
    }
    assert len(api_routes) >= 20
    assert normalized <= documented, sorted(normalized - documented)


@pytest.mark.django_db
def test_swagger_ui_is_served_without_the_network(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert b"swagger-ui" in response.content
    assert b"cdn.jsdelivr" not in response.content


def test_the_sdk_imports_with_django_unavailable():
    code = (
        "import sys; sys.modules['django'] = None; import agentfield; print(agentfield.__version__)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
