"""Settings, read only from the environment (API.md section 9).

Nothing set: the embedded default (SQLite under ``var/``, in-memory channel layer, Celery
on a filesystem broker). ``DATABASE_URL`` and ``REDIS_URL`` set: PostgreSQL, channels-redis
and Celery on Redis.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import dj_database_url

from agentfield.contract.matrix import SUPPORTED_SESSION_TRANSPORTS
from agentfield.contract.media import SUPPORTED_SESSION_MEDIA
from agentfield_site import api_docs
from agentfield_site.env import (
    EnvError,
    env_bool,
    env_choice,
    env_float,
    env_header_match,
    env_int,
    env_ip_list,
    env_list,
    env_network_list,
    env_origin_list,
    env_port_range,
    env_rate,
    env_str,
    env_url,
)
from agentfield_site.web_processes import read_web_processes

BASE_DIR = Path(__file__).resolve().parent.parent
# Local state of the embedded stack (SQLite, broker queue, generated keys); tests use their own.
VAR_DIR = Path(env_str("AGENTFIELD_VAR_DIR", str(BASE_DIR / "var"))).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)
(VAR_DIR / "staticfiles").mkdir(exist_ok=True)


def _secret_key() -> str:
    """The configured key, or one generated once and kept in ``var/`` for local runs."""
    configured = env_str("SECRET_KEY")
    if configured:
        return configured
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "adrf",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "agentfield_site.apps.SiteConfig",
    "access_app",
    "executions_app",
    "sessions_app",
    "devtools",
]

MIDDLEWARE = [
    # Django's own middleware, as subclasses that skip the thread hop per hook under ASGI.
    "agentfield_site.loop_middleware.SecurityMiddleware",
    "agentfield_site.middleware.ContentSecurityPolicyMiddleware",
    "foundation.request_guard.ApiRequestGuardMiddleware",
    "agentfield_site.middleware.StaticFilesMiddleware",
    "agentfield_site.loop_middleware.SessionMiddleware",
    "agentfield_site.loop_middleware.CommonMiddleware",
    "agentfield_site.loop_middleware.CsrfViewMiddleware",
    "agentfield_site.loop_middleware.AuthenticationMiddleware",
    "agentfield_site.loop_middleware.MessageMiddleware",
    "agentfield_site.loop_middleware.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "agentfield_site.urls"
ASGI_APPLICATION = "agentfield_site.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "access_app.context_processors.page_frame",  # nav per role, banners
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------

DATABASE_URL = env_url(
    "DATABASE_URL",
    f"sqlite:///{VAR_DIR / 'agentfield.sqlite3'}",
    ("sqlite", "postgres", "postgresql"),
)
try:
    _database = dj_database_url.parse(DATABASE_URL)
except ValueError:
    raise EnvError("DATABASE_URL", "a sqlite:// or postgres:// URL", "...") from None

if _database["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the Celery worker and daphne read while the other writes; IMMEDIATE
    # transactions take the write lock up front instead of failing on upgrade.
    _database["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    _database["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}  # tests' processes share it
else:
    _database["CONN_MAX_AGE"] = 0
    # Under daphne every request runs in its own thread and holds a connection until it
    # ends; a burst queues for the pool (up to the timeout) instead of opening hundreds.
    _database["OPTIONS"] = {
        "server_side_binding": True,
        # Prepared after this many runs on a connection (psycopg's default; Django turns it
        # off for external poolers): the hot path repeats a handful of queries. 0 disables.
        "prepare_threshold": env_int("AGENTFIELD_DB_PREPARE_THRESHOLD", 5, minimum=0) or None,
        "pool": {
            "min_size": 2,
            "max_size": env_int("AGENTFIELD_DB_POOL_SIZE", 20, minimum=1),
            "timeout": 30,
        },
    }
DATABASES = {"default": _database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Channels and Celery ------------------------------------------------------------------

REDIS_URL = env_url("REDIS_URL", "", ("redis", "rediss"))
# daphne processes `manage.py serve` (and `make run`) runs: "auto" (the CPU count) or N >= 1;
# always one on the embedded stack, whose channel layer and cache are per process (0028).
AGENTFIELD_WEB_PROCESSES = read_web_processes()
# HTTP requests' sync calls (views, the database) running at once in one process; the
# others wait their turn (foundation/request_threads.py, decision 0029).
AGENTFIELD_WEB_THREADS = env_int("AGENTFIELD_WEB_THREADS", 8, minimum=1)

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "foundation.channel_layer.PatientRedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {}
    CELERY_BROKER_TRANSPORT = None
    # The cache holds the rate limits' counters: shared by every process through Redis.
    CACHES = {
        "default": {
            "BACKEND": "foundation.cache.ProcessRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "agentfield",
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    # kombu's SQLAlchemy transport on a SQLite file: no server, and transactional (kombu's
    # filesystem transport can read a half-written message under load: kombu#1551).
    CELERY_BROKER_URL = f"sqlite:///{VAR_DIR / 'celery-broker.sqlite3'}"
    CELERY_BROKER_TRANSPORT = "agentfield_site.broker:Transport"
    # Passed to SQLAlchemy's create_engine: wait for SQLite's write lock instead of failing.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"connect_args": {"timeout": 30}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
# No result backend: sharing the disabled one saves building it per thread at each enqueue.
CELERY_RESULT_BACKEND_THREAD_SAFE = CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER, CELERY_ACCEPT_CONTENT = "json", ["json"]

# --- REST framework and OpenAPI -----------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "access_app.authentication.ApiKeyAuthentication",
        "access_app.authentication.LoginSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["foundation.parsers.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "foundation.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "foundation.openapi.ApiAutoSchema",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = api_docs.SPECTACULAR_SETTINGS  # the words of /api/docs/

# --- Auth, static files, i18n -------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
# Django's model backend, refusing logins after too many failures (decision 0018).
AUTHENTICATION_BACKENDS = ["access_app.backends.ThrottledModelBackend"]
# The product's login (users with caller tags, superusers, API keys: decision 0031).
LOGIN_URL, LOGIN_REDIRECT_URL = "login", "overview"  # URL names: resolved when used

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# --- Deployment behind TLS (manage.py check --deploy; decision 0018) --------------------
# Django's own names, read from the environment. Off by default: `make run` and the tests
# serve plain HTTP on loopback, where a secure cookie would never come back.
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # a load balancer's probe speaks plain HTTP
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", False)
# "X-Forwarded-Proto: https": the header a TLS-terminating proxy sets (and strips from
# clients). Also makes a WebSocket handshake https for the origin check.
SECURE_PROXY_SSL_HEADER = env_header_match("SECURE_PROXY_SSL_HEADER")
# Other origins whose pages may post forms and open WebSockets here.
CSRF_TRUSTED_ORIGINS = env_origin_list("CSRF_TRUSTED_ORIGINS", [])
# Failed logins (admin login or any form that authenticates): refused for the rest of the
# window after this many failures per user name and client address, or per address.
AGENTFIELD_LOGIN_MAX_FAILURES = env_int("AGENTFIELD_LOGIN_MAX_FAILURES", 5, minimum=1)
AGENTFIELD_LOGIN_MAX_FAILURES_PER_ADDRESS = env_int(
    "AGENTFIELD_LOGIN_MAX_FAILURES_PER_ADDRESS", 20, minimum=1
)
AGENTFIELD_LOGIN_LOCKOUT_SECONDS = env_int("AGENTFIELD_LOGIN_LOCKOUT_SECONDS", 900, minimum=1)

LANGUAGE_CODE, TIME_ZONE, USE_I18N, USE_TZ = "en-us", "UTC", False, True

LOG_LEVEL = env_choice("LOG_LEVEL", "info", ("debug", "info", "warning", "error")).upper()
# aioice logs every ICE check at INFO: heard only with LOG_LEVEL=debug.
_MEDIA_LOG_LEVEL = LOG_LEVEL if LOG_LEVEL in ("DEBUG", "ERROR") else "WARNING"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {name: {"level": _MEDIA_LOG_LEVEL} for name in ("aioice", "aiortc")},
}

# --- Providers (keys stay on the server; never logged) ------------------------------------

OPENAI_API_KEY = env_str("OPENAI_API_KEY")
OPENAI_BASE_URL = env_url("OPENAI_BASE_URL", "", ("http", "https", "ws", "wss"))
OPENROUTER_API_KEY = env_str("OPENROUTER_API_KEY")
OPENROUTER_BASE_URL = env_url(
    "OPENROUTER_BASE_URL", "https://openrouter.ai/api/v1", ("http", "https")
)
# Optional app attribution (HTTP-Referer, X-OpenRouter-Title / X-Title); sent when set.
OPENROUTER_SITE_URL = env_url("OPENROUTER_SITE_URL", "", ("http", "https"))
OPENROUTER_APP_NAME = env_str("OPENROUTER_APP_NAME")
# The speech-to-text model that gives an audio turn its transcript.
OPENROUTER_TRANSCRIPTION_MODEL = env_str("OPENROUTER_TRANSCRIPTION_MODEL", "openai/whisper-1")
# Set by `make run` when the provider simulator answers: every page says so.
AGENTFIELD_PROVIDER_SIMULATOR = env_bool("AGENTFIELD_PROVIDER_SIMULATOR", False)

# --- AgentField behaviour -----------------------------------------------------------------

AGENTFIELD_TAG_APPROVAL = env_choice("AGENTFIELD_TAG_APPROVAL", "manual", ("manual", "auto"))
AGENTFIELD_DEFAULT_DENY = env_bool("AGENTFIELD_DEFAULT_DENY", True)

# Where agent nodes' base_urls may point (decision 0015): loopback and private ranges by
# default; link-local and cloud metadata addresses are refused whatever this says.
AGENTFIELD_AGENT_NETWORKS = env_network_list(
    "AGENTFIELD_AGENT_NETWORKS",
    ["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"],
)

AGENTFIELD_SYNC_TIMEOUT = env_float("AGENTFIELD_SYNC_TIMEOUT", 60.0, minimum=0.1)
# provider -> transports it supports (upstream's table); a custom provider is added here.
AGENTFIELD_SESSION_CAPABILITIES = dict(SUPPORTED_SESSION_TRANSPORTS)
# provider -> media its webrtc sessions may use (the contract's); false: relay only, for all.
AGENTFIELD_WEBRTC_DIRECT_MEDIA = env_bool("AGENTFIELD_WEBRTC_DIRECT_MEDIA", True)
AGENTFIELD_SESSION_MEDIA = {
    provider: tuple(m for m in media if m != "direct" or AGENTFIELD_WEBRTC_DIRECT_MEDIA)
    for provider, media in SUPPORTED_SESSION_MEDIA.items()
}
AGENTFIELD_SESSION_CONNECT_TTL = env_int("AGENTFIELD_SESSION_CONNECT_TTL", 300, minimum=1)
AGENTFIELD_SESSION_MAX_SECONDS = env_int("AGENTFIELD_SESSION_MAX_SECONDS", 3600, minimum=1)
# A live call whose process has not refreshed it for this long is failed by the sweep.
AGENTFIELD_SESSION_STALE_SECONDS = env_int("AGENTFIELD_SESSION_STALE_SECONDS", 60, minimum=15)
AGENTFIELD_MAX_TURN_BYTES = env_int("AGENTFIELD_MAX_TURN_BYTES", 10 * 1024 * 1024, minimum=1)
# Any request body (413 beyond it). The default leaves room for a largest audio turn in
# base64 (4/3 of its bytes) plus the JSON around it.
AGENTFIELD_MAX_REQUEST_BYTES = env_int(
    "AGENTFIELD_MAX_REQUEST_BYTES",
    max(16 * 1024 * 1024, AGENTFIELD_MAX_TURN_BYTES * 4 // 3 + 1024 * 1024),
    minimum=1024,
)
DATA_UPLOAD_MAX_MEMORY_SIZE = AGENTFIELD_MAX_REQUEST_BYTES
# Per principal (a session client counts as its session's starter); 429 beyond.
AGENTFIELD_SESSION_START_RATE = env_rate("AGENTFIELD_SESSION_START_RATE", "60/min")
AGENTFIELD_TOOL_CALL_RATE = env_rate("AGENTFIELD_TOOL_CALL_RATE", "600/min")
# One WebSocket message (realtime transport, agent link): larger ones get an error event.
# Launchers give daphne (whose cap is 1 MiB) headroom above this, so the consumer, not a
# bare close, answers a message that is a little too large.
AGENTFIELD_MAX_WS_MESSAGE_BYTES = env_int(
    "AGENTFIELD_MAX_WS_MESSAGE_BYTES", 1024 * 1024, minimum=1024
)
# What a caller may cost (decision 0017): live sessions at once (created, connecting or
# active, not past their deadline), and per principal like the rates above, WebRTC
# offers, realtime WebSocket connects and audio turns. 429 beyond each.
AGENTFIELD_MAX_LIVE_SESSIONS_PER_CALLER = env_int(
    "AGENTFIELD_MAX_LIVE_SESSIONS_PER_CALLER", 20, minimum=1
)
AGENTFIELD_WEBRTC_OFFER_RATE = env_rate("AGENTFIELD_WEBRTC_OFFER_RATE", "30/min")
AGENTFIELD_REALTIME_CONNECT_RATE = env_rate("AGENTFIELD_REALTIME_CONNECT_RATE", "30/min")
AGENTFIELD_AUDIO_TURN_RATE = env_rate("AGENTFIELD_AUDIO_TURN_RATE", "120/min")
# Turn-based audio: how long a handler may take to answer a turn, and the history kept.
AGENTFIELD_TURN_HANDLER_TIMEOUT = env_float("AGENTFIELD_TURN_HANDLER_TIMEOUT", 30.0, minimum=0.1)
AGENTFIELD_TURN_HISTORY_MESSAGES = env_int("AGENTFIELD_TURN_HISTORY_MESSAGES", 20, minimum=0)
# How long one call to an agent node may take before the execution times out.
AGENTFIELD_AGENT_CALL_TIMEOUT = env_float("AGENTFIELD_AGENT_CALL_TIMEOUT", 120.0, minimum=0.1)
# Connection errors and 5xx from an agent are retried this many times, with backoff.
AGENTFIELD_DISPATCH_MAX_RETRIES = env_int("AGENTFIELD_DISPATCH_MAX_RETRIES", 3, minimum=0)
AGENTFIELD_DISPATCH_RETRY_BASE = env_float("AGENTFIELD_DISPATCH_RETRY_BASE", 0.5, minimum=0.0)
AGENTFIELD_ALLOW_PRIVATE_WEBHOOKS = env_bool("AGENTFIELD_ALLOW_PRIVATE_WEBHOOKS", False)
AGENTFIELD_WEBHOOK_RETRY_BASE = env_float("AGENTFIELD_WEBHOOK_RETRY_BASE", 5.0, minimum=0.0)

# --- WebRTC: the control plane's own aiortc peer (docs/decisions/0009) ------------------


def _ice_server_urls(name: str) -> list[str]:
    urls = env_list(name, [])
    for url in urls:
        if not url.startswith(("stun:", "turn:", "turns:")):
            raise EnvError(name, "comma-separated stun:, turn: or turns: URLs", url)
    return urls


# None by default: aiortc would otherwise ask Google's public STUN server. aiortc uses the
# first STUN and the first TURN URL; the TURN credentials go with the TURN URL.
AGENTFIELD_WEBRTC_ICE_SERVERS = _ice_server_urls("AGENTFIELD_WEBRTC_ICE_SERVERS")
AGENTFIELD_WEBRTC_TURN_USERNAME = env_str("AGENTFIELD_WEBRTC_TURN_USERNAME")
AGENTFIELD_WEBRTC_TURN_CREDENTIAL = env_str("AGENTFIELD_WEBRTC_TURN_CREDENTIAL")
# Host candidates offered to browsers; empty: every interface but loopback (aioice's choice).
AGENTFIELD_WEBRTC_ICE_HOSTS = env_ip_list("AGENTFIELD_WEBRTC_ICE_HOSTS", [])
# UDP ports for host candidates, "LOW-HIGH"; unset: any ephemeral port.
AGENTFIELD_WEBRTC_PORT_RANGE = env_port_range("AGENTFIELD_WEBRTC_PORT_RANGE")

# Where the browser's offered ICE candidates may point: our peer sends UDP to them. Default:
# global and private addresses; link-local, metadata addresses and mDNS names never, and
# with loopback-only ICE hosts (tests, make run) loopback only.
AGENTFIELD_WEBRTC_PEER_NETWORKS = env_network_list(
    "AGENTFIELD_WEBRTC_PEER_NETWORKS",
    ["global", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"],
    allow_global=True,
)
# A peer not connected this many seconds after the answer fails its session.
AGENTFIELD_WEBRTC_CONNECT_TIMEOUT = env_float(
    "AGENTFIELD_WEBRTC_CONNECT_TIMEOUT", 30.0, minimum=1.0
)

CELERY_BEAT_SCHEDULE = {
    "recover-executions": {"task": "executions_app.tasks.recover_executions", "schedule": 15.0},
    "expire-sessions": {"task": "sessions_app.tasks.expire_sessions", "schedule": 15.0},
}
# Celery's Django fixup closes database connections (and, in prefork, the whole psycopg
# pool) around every task unless told to reuse them; reopening costs more than the task.
CELERY_DB_REUSE_MAX = 1000
