import asyncio

import pytest
from django.conf import settings

from agentfield_site.celery import app as celery_app

pytestmark = pytest.mark.django_db


def test_healthz_reports_every_dependency_reachable(client):
    response = client.get("/healthz")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "channel_layer", "broker"}
    assert all(check["ok"] for check in body["checks"].values())


def test_healthz_runs_on_the_configured_stack():
    expected = "redis" if settings.REDIS_URL else "sqlite"
    assert celery_app.conf.broker_url.startswith(expected)


def test_healthz_answers_503_naming_an_unreachable_broker(client, monkeypatch):
    # Port 1 on loopback: nothing listens there, so the connection is refused at once.
    monkeypatch.setitem(celery_app.conf, "broker_url", "redis://127.0.0.1:1/0")
    monkeypatch.setitem(celery_app.conf, "broker_transport", None)
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["broker"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True


async def test_probes_arriving_while_a_round_runs_share_its_outcome(monkeypatch):
    from agentfield_site import health

    release, rounds = asyncio.Event(), []

    async def held_database_check() -> None:
        rounds.append(1)
        await release.wait()

    monkeypatch.setitem(health.CHECKS, "database", held_database_check)
    probes = [asyncio.create_task(health.run_checks()) for _ in range(20)]
    await asyncio.sleep(0)  # every probe has arrived while the first round waits
    release.set()
    outcomes = await asyncio.gather(*probes)
    assert len(rounds) == 1
    assert all(outcome["database"]["ok"] for outcome in outcomes)
    await health.run_checks()  # a probe after the round starts its own
    assert len(rounds) == 2
