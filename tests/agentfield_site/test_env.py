import os
import subprocess
import sys
from pathlib import Path

import pytest

from agentfield_site.env import (
    EnvError,
    env_bool,
    env_choice,
    env_float,
    env_header_match,
    env_int,
    env_ip_list,
    env_list,
    env_origin_list,
    env_port_range,
    env_rate,
    env_url,
)

ROOT = Path(__file__).resolve().parents[2]


def test_readers_return_defaults_when_unset_or_blank():
    assert env_int("X", 5, environ={}) == 5
    assert env_bool("X", True, environ={"X": "  "}) is True
    assert env_list("X", ["a"], environ={}) == ["a"]


def test_readers_parse_good_values():
    assert env_int("X", 0, environ={"X": "42"}) == 42
    assert env_bool("X", False, environ={"X": "Yes"}) is True
    assert env_float("X", 0.0, environ={"X": "2.5"}) == 2.5
    assert env_list("X", [], environ={"X": "a, b,,c"}) == ["a", "b", "c"]
    assert env_choice("X", "manual", ("manual", "auto"), environ={"X": "AUTO"}) == "auto"
    assert env_ip_list("X", [], environ={"X": "127.0.0.1, 0::1"}) == ["127.0.0.1", "::1"]
    assert env_port_range("X", environ={"X": "40000-40100"}) == (40000, 40100)
    assert env_port_range("X", environ={}) is None


def test_rates_read_as_count_and_seconds():
    assert env_rate("X", "60/min", environ={}) == (60, 60)
    assert env_rate("X", "60/min", environ={"X": "5/s"}) == (5, 1)
    assert env_rate("X", "60/min", environ={"X": "100 / hour"}) == (100, 3600)
    assert env_rate("X", "60/min", environ={"X": "7/Day"}) == (7, 86400)


@pytest.mark.parametrize("value", ["60", "60/fortnight", "0/min", "-1/min", "x/min"])
def test_a_bad_rate_names_the_variable(value):
    with pytest.raises(EnvError, match="AGENTFIELD_TOOL_CALL_RATE"):
        env_rate(
            "AGENTFIELD_TOOL_CALL_RATE", "600/min", environ={"AGENTFIELD_TOOL_CALL_RATE": value}
        )


@pytest.mark.parametrize(
    ("reader", "value"),
    [
        (lambda e: env_int("AGENTFIELD_SESSION_CONNECT_TTL", 1, minimum=1, environ=e), "soon"),
        (lambda e: env_int("AGENTFIELD_SESSION_CONNECT_TTL", 1, minimum=1, environ=e), "0"),
        (lambda e: env_bool("AGENTFIELD_SESSION_CONNECT_TTL", True, environ=e), "maybe"),
        (lambda e: env_float("AGENTFIELD_SESSION_CONNECT_TTL", 1.0, environ=e), "nan"),
        (lambda e: env_choice("AGENTFIELD_SESSION_CONNECT_TTL", "a", ("a",), environ=e), "b"),
        (lambda e: env_url("AGENTFIELD_SESSION_CONNECT_TTL", "", ("redis",), environ=e), "x://y"),
        (lambda e: env_ip_list("AGENTFIELD_SESSION_CONNECT_TTL", [], environ=e), "localhost"),
        (lambda e: env_port_range("AGENTFIELD_SESSION_CONNECT_TTL", environ=e), "5000"),
        (lambda e: env_port_range("AGENTFIELD_SESSION_CONNECT_TTL", environ=e), "50-60"),
        (lambda e: env_port_range("AGENTFIELD_SESSION_CONNECT_TTL", environ=e), "6000-5000"),
    ],
)
def test_a_bad_value_names_the_variable(reader, value):
    with pytest.raises(EnvError, match="AGENTFIELD_SESSION_CONNECT_TTL"):
        reader({"AGENTFIELD_SESSION_CONNECT_TTL": value})


def test_a_bad_url_never_echoes_a_password():
    with pytest.raises(EnvError) as info:
        env_url(
            "DATABASE_URL", "", ("postgres",), environ={"DATABASE_URL": "mysql://u:hunter2@h/db"}
        )
    assert "hunter2" not in str(info.value)


def _settings_subprocess(env: dict[str, str], code: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    clean.update(env, DJANGO_SETTINGS_MODULE="agentfield_site.settings")
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); " + code],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_start_up_stops_with_a_message_naming_the_bad_variable():
    result = _settings_subprocess({"AGENTFIELD_SYNC_TIMEOUT": "forever"}, "pass")
    assert result.returncode != 0
    assert "AGENTFIELD_SYNC_TIMEOUT" in result.stderr


def test_a_bad_ice_server_url_stops_start_up():
    result = _settings_subprocess({"AGENTFIELD_WEBRTC_ICE_SERVERS": "stun.example.org"}, "pass")
    assert result.returncode != 0
    assert "AGENTFIELD_WEBRTC_ICE_SERVERS" in result.stderr


def test_nothing_set_runs_the_embedded_default():
    code = (
        "from django.conf import settings as s; "
        "print(s.DATABASES['default']['ENGINE'], s.CHANNEL_LAYERS['default']['BACKEND'], "
        "s.CELERY_BROKER_URL, s.DATABASES['default']['OPTIONS']['init_command'])"
    )
    result = _settings_subprocess({}, code)
    assert result.returncode == 0, result.stderr
    assert "sqlite3" in result.stdout
    assert "InMemoryChannelLayer" in result.stdout
    assert "sqlite:///" in result.stdout and "broker.sqlite3" in result.stdout
    assert "journal_mode=WAL" in result.stdout


def test_database_and_redis_urls_select_postgres_and_redis():
    code = (
        "from django.conf import settings as s; "
        "print(s.DATABASES['default']['ENGINE'], s.CHANNEL_LAYERS['default']['BACKEND'], "
        "s.CELERY_BROKER_URL)"
    )
    env = {
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/test",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
    }
    result = _settings_subprocess(env, code)
    assert result.returncode == 0, result.stderr
    assert "postgresql" in result.stdout
    assert "RedisPubSubChannelLayer" in result.stdout
    assert "redis://127.0.0.1:6379/0" in result.stdout


def test_origins_and_the_proxy_header_read_strictly():
    origins = env_origin_list("X", [], environ={"X": "https://app.example.com/, https://*.x.io"})
    assert origins == ["https://app.example.com", "https://*.x.io"]
    assert env_header_match("X", environ={"X": "X-Forwarded-Proto: https"}) == (
        "HTTP_X_FORWARDED_PROTO",
        "https",
    )
    assert env_header_match("X", environ={}) is None
    for bad in ("app.example.com", "ftp://x", "https://x/path"):
        with pytest.raises(EnvError, match="CSRF_TRUSTED_ORIGINS"):
            env_origin_list("CSRF_TRUSTED_ORIGINS", [], environ={"CSRF_TRUSTED_ORIGINS": bad})
    for bad in ("X-Forwarded-Proto", "X Forwarded: https", "X-Forwarded-Proto:"):
        with pytest.raises(EnvError, match="SECURE_PROXY_SSL_HEADER"):
            env_header_match("SECURE_PROXY_SSL_HEADER", environ={"SECURE_PROXY_SSL_HEADER": bad})


def test_the_deployment_settings_come_from_the_environment():
    env = {
        "SECURE_HSTS_SECONDS": "31536000",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
        "SECURE_HSTS_PRELOAD": "true",
        "SECURE_SSL_REDIRECT": "1",
        "SESSION_COOKIE_SECURE": "yes",
        "CSRF_COOKIE_SECURE": "on",
        "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto: https",
        "CSRF_TRUSTED_ORIGINS": "https://app.example.com",
    }
    code = f"from django.conf import settings as s; print([getattr(s, n) for n in {list(env)!r}])"
    result = _settings_subprocess(env, code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(
        [
            31536000,
            True,
            True,
            True,
            True,
            True,
            ("HTTP_X_FORWARDED_PROTO", "https"),
            ["https://app.example.com"],
        ]
    )
