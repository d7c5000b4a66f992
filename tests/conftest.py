"""Shared fixtures: callers with keys (alice, bob, an admin, an agent) and API clients."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from access_app.models import ApiKey
from access_app.services.api_keys import api_key_create
from agentfield_site.celery import app as celery_app
from provider_simulator import running_simulator
from tests.agent_double import AgentDouble
from tests.worker import TEST_VAR_DIR, celery_worker


def pytest_configure(config):
    """Tests get their own broker queue, apart from a `make run` that may be running."""
    shutil.rmtree(TEST_VAR_DIR, ignore_errors=True)
    TEST_VAR_DIR.mkdir(parents=True)
    if not settings.REDIS_URL:
        celery_app.conf.broker_url = f"sqlite:///{TEST_VAR_DIR / 'celery-broker.sqlite3'}"


@dataclass
class Caller:
    key: ApiKey
    secret: str

    def client(self) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_X_API_KEY=self.secret)
        return client


@pytest.fixture(autouse=True)
def _rate_limits_out_of_the_way(settings):
    """Only the rate-limit tests meet the limits (they set small ones); elsewhere a key
    reused across tests must not run into counts left by earlier ones."""
    settings.AGENTFIELD_SESSION_START_RATE = (10**9, 60)
    settings.AGENTFIELD_TOOL_CALL_RATE = (10**9, 60)
    settings.AGENTFIELD_WEBRTC_OFFER_RATE = (10**9, 60)
    settings.AGENTFIELD_REALTIME_CONNECT_RATE = (10**9, 60)
    settings.AGENTFIELD_AUDIO_TURN_RATE = (10**9, 60)
    settings.AGENTFIELD_MAX_LIVE_SESSIONS_PER_CALLER = 10**9


@pytest.fixture
def make_caller(db) -> Callable[..., Caller]:
    def make(
        role: str = "caller", tags: list[str] | None = None, node_id: str = "", name: str = ""
    ):
        key, secret = api_key_create(
            name=name or f"{role}-key", role=role, tags=tags or [], node_id=node_id
        )
        return Caller(key=key, secret=secret)

    return make


@pytest.fixture
def admin(make_caller) -> Caller:
    return make_caller("admin", name="admin")


@pytest.fixture
def alice(make_caller) -> Caller:
    return make_caller("caller", tags=["team:a"], name="alice")


@pytest.fixture
def bob(make_caller) -> Caller:
    return make_caller("caller", tags=["team:b"], name="bob")


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


@pytest.fixture(scope="session", autouse=True)
def _release_test_database(django_db_setup, django_db_blocker):
    """Let the test database be dropped at the end: close the psycopg pool, and end the
    sessions that event-loop helper threads (asgiref) opened and never returned."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        connection.close_pool()


@pytest.fixture(scope="module")
def worker(django_db_setup, django_db_blocker):
    """A real Celery worker process for a test module, on the test database.

    Module scope, so a module that starts and kills workers of its own has none beside them.
    """
    with django_db_blocker.unblock():
        celery_app.control.purge()
        with celery_worker("module") as process:
            yield process


@pytest.fixture
def agent_double():
    double = AgentDouble().start()
    yield double
    double.stop()


@pytest.fixture(scope="session")
def _simulator_thread():
    with running_simulator() as handle:
        yield handle


@pytest.fixture
def simulator(_simulator_thread):
    """The provider simulator in a thread of the test process, reset for every test
    (tests/sessions_app has its own, in a process of its own)."""
    _simulator_thread.reset()
    return _simulator_thread
