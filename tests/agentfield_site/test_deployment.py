"""Deployment settings: HSTS, TLS redirect, secure cookies, the proxy header, CSRF origins,
the Content-Security-Policy, `check --deploy` and the failed-login throttle (decision 0018)."""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from access_app.services.login_throttle import refused_message

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION = {
    "DEBUG": "0",
    "ALLOWED_HOSTS": "agentfield.example.com",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "SECURE_HSTS_PRELOAD": "1",
    "SECURE_SSL_REDIRECT": "1",
    "SESSION_COOKIE_SECURE": "1",
    "CSRF_COOKIE_SECURE": "1",
    "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto: https",
    "CSRF_TRUSTED_ORIGINS": "https://app.example.com",
}
DEPLOYMENT_VARIABLES = {*PRODUCTION, "SECRET_KEY", "DATABASE_URL", "REDIS_URL"}


def check_deploy(tmp_path: Path, env: dict[str, str]) -> tuple[int, set[str], str]:
    clean = {k: v for k, v in os.environ.items() if k not in DEPLOYMENT_VARIABLES}
    clean.update(env, AGENTFIELD_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="")
    clean.pop("DJANGO_SETTINGS_MODULE")
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    return result.returncode, set(re.findall(r"\((security\.\w+)\)", output)), output


def test_check_deploy_passes_a_production_environment(tmp_path):
    code, ids, output = check_deploy(
        tmp_path, {**PRODUCTION, "SECRET_KEY": secrets.token_urlsafe(50)}
    )
    assert (code, ids) == (0, set()), output
    assert "no issues" in output


def test_check_deploy_warns_of_exactly_what_dev_settings_leave_open(tmp_path):
    """Our middleware are subclasses of Django's: Django alone would say there is no
    security, CSRF or clickjacking middleware (false) and skip HSTS and cookies (true)."""
    code, ids, output = check_deploy(tmp_path, {})
    assert code != 0
    assert ids == {"security.W004", "security.W008", "security.W012", "security.W016"}, output
    _, ids, output = check_deploy(tmp_path, {"DEBUG": "1"})
    assert ids == {"security.W004", "security.W008", "security.W012", "security.W016",
                   "security.W018"}, output  # fmt: skip


@pytest.fixture
def production(settings):
    settings.ALLOWED_HOSTS = ["agentfield.example.com"]
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True
    settings.SECURE_SSL_REDIRECT = True
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.CSRF_TRUSTED_ORIGINS = ["https://app.example.com"]
    return Client(HTTP_HOST="agentfield.example.com")


def test_plain_http_is_redirected_but_the_health_probe_is_not(production, db):
    response = production.get("/sessions/")
    assert response.status_code == 301
    assert response["Location"] == "https://agentfield.example.com/sessions/"
    assert production.get("/healthz").status_code == 200


def test_behind_the_proxy_https_gets_hsts_and_secure_cookies(production, django_user_model):
    django_user_model.objects.create_superuser("ops", password="pw-ops-12345")
    proxied = {"HTTP_X_FORWARDED_PROTO": "https"}
    page = production.get("/admin/login/", **proxied)
    assert page.status_code == 200
    assert page["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert page.cookies["csrftoken"]["secure"]
    login = production.post(
        "/admin/login/?next=/admin/",
        {"username": "ops", "password": "pw-ops-12345",
         "csrfmiddlewaretoken": page.cookies["csrftoken"].value},
        **proxied,
    )  # fmt: skip
    assert login.status_code == 302
    assert login.cookies["sessionid"]["secure"]


def test_a_trusted_origin_may_post_a_form(production, django_user_model):
    client = Client(
        HTTP_HOST="agentfield.example.com", REMOTE_ADDR=fresh_address(), enforce_csrf_checks=True
    )
    proxied = {"HTTP_X_FORWARDED_PROTO": "https"}
    token = client.get("/admin/login/", **proxied).cookies["csrftoken"].value
    body = {"username": "x", "password": "y", "csrfmiddlewaretoken": token}
    foreign = client.post("/admin/login/", body, HTTP_ORIGIN="https://evil.example", **proxied)
    assert foreign.status_code == 403
    trusted = client.post("/admin/login/", body, HTTP_ORIGIN="https://app.example.com", **proxied)
    assert trusted.status_code == 200  # the form, with its (wrong password) error


# --- Content-Security-Policy ---------------------------------------------------------------


def policy_of(response) -> dict[str, str]:
    directives = (
        part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";")
    )
    return {name: value for name, value in directives}


PAGES = ["/", "/sessions/", "/access/approvals/", "/admin/", "/admin/access_app/apikey/",
         "/api/docs/", "/healthz"]  # fmt: skip


@pytest.mark.parametrize("path", PAGES)
def test_pages_carry_a_policy_without_inline_script_or_style(path, admin_client):
    response = admin_client.get(path)
    assert response.status_code == 200
    policy = policy_of(response)
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert policy["object-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert policy["connect-src"] == "'self' ws://testserver"
    if "html" in response["Content-Type"]:
        html = response.content.decode()
        assert not re.search(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", html)
        assert "<style" not in html and " style=" not in html


def test_the_api_docs_script_comes_from_this_origin(client, db):
    html = client.get("/api/docs/").content.decode()
    script = re.search(r'<script src="(/api/docs/\?[^"]*)"', html)
    assert script is not None
    response = client.get(script.group(1).replace("&amp;", "&"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")


def test_the_policy_names_the_secure_websocket_scheme_over_https(client, db):
    response = client.get("/", secure=True)
    assert policy_of(response)["connect-src"] == "'self' wss://testserver"


# --- Failed logins --------------------------------------------------------------------------


def fresh_address() -> str:
    """An address no earlier run counted failures for: the counts outlive a test run in
    Redis, and clearing the cache would empty the Celery queue sharing it."""
    return str(ipaddress.IPv6Address("2001:db8::") + secrets.randbits(64))


@pytest.fixture
def ops(django_user_model, settings):
    settings.AGENTFIELD_LOGIN_MAX_FAILURES = 5
    settings.AGENTFIELD_LOGIN_MAX_FAILURES_PER_ADDRESS = 12
    settings.AGENTFIELD_LOGIN_LOCKOUT_SECONDS = 900
    return django_user_model.objects.create_superuser("ops", password="pw-ops-12345")


def admin_login(username: str, password: str, address: str):
    client = Client(REMOTE_ADDR=address)
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": password})


def test_five_failed_admin_logins_refuse_even_the_right_password_with_a_clear_message(ops):
    address = fresh_address()
    for _ in range(5):
        response = admin_login("ops", "wrong", address)
        assert response.status_code == 200
        assert "Please enter the correct username and password" in response.content.decode()
    refused = admin_login("ops", "pw-ops-12345", address)
    assert refused.status_code == 200  # the form again, not a login
    assert refused_message() in refused.content.decode()
    assert "Try again in 15 minutes." in refused_message()
    # the same user from elsewhere is not locked out by a stranger
    assert admin_login("ops", "pw-ops-12345", fresh_address()).status_code == 302


def test_a_success_clears_the_count_for_its_name_and_address(ops):
    address = fresh_address()
    for _ in range(4):
        admin_login("ops", "wrong", address)
    assert admin_login("ops", "pw-ops-12345", address).status_code == 302
    for _ in range(4):
        admin_login("ops", "wrong", address)
    assert admin_login("ops", "pw-ops-12345", address).status_code == 302


def test_one_address_trying_many_names_is_refused_too(ops):
    address = fresh_address()
    for n in range(12):
        admin_login(f"guess{n}", "wrong", address)
    refused = admin_login("ops", "pw-ops-12345", address)
    assert refused_message() in refused.content.decode()


def test_the_backend_refuses_any_authenticate_call_once_throttled(ops, rf):
    from django.contrib.auth import authenticate

    request = rf.post("/any-login-form/", REMOTE_ADDR=fresh_address())
    for _ in range(5):
        assert authenticate(request, username="ops", password="wrong") is None
    assert authenticate(request, username="ops", password="pw-ops-12345") is None
