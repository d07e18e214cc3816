"""GET /healthz: database and Redis, optionally a worker, and the registry sync's freshness."""

import datetime

import pytest
import time_machine
from django.db import connections

from config import redis as redis_module
from trials.models import SyncState

pytestmark = pytest.mark.django_db


def test_it_is_ok_when_the_database_and_redis_answer(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "redis": "ok", "search_index": "ok (298 trials)"}
    assert "no-cache" in response["Cache-Control"]


def test_it_names_redis_when_redis_is_unreachable(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "ok"
    assert body["redis"].startswith("unreachable")


class _BrokenConnections:
    """connections[...] for a PostgreSQL that does not answer (a closed port)."""

    def __init__(self):
        settings_dict = {**connections["default"].settings_dict, "HOST": "127.0.0.1", "PORT": "1"}
        backend = type(connections["default"])
        self.connection = backend(settings_dict, alias="broken")

    def __getitem__(self, alias):
        return self.connection


def test_it_names_the_database_when_postgresql_is_unreachable(client, monkeypatch):
    broken = _BrokenConnections()
    monkeypatch.setattr("config.views.connections", broken)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"].startswith("unreachable")
    assert response.json()["redis"] == "ok"


def test_it_says_when_no_worker_answers(client, settings):
    # The test run's own queue and key prefix: no worker listens there.
    response = client.get("/healthz?worker=1")
    assert response.status_code == 503
    assert response.json()["worker"] == "no worker answered"


@pytest.mark.worker
def test_it_pings_a_real_worker(client, worker_process):
    worker_process()
    response = client.get("/healthz?worker=1")
    assert response.status_code == 200
    assert response.json()["worker"].startswith("ok")


def test_it_reports_a_stale_registry_sync_after_two_business_days(client, settings):
    settings.CTGOV_SYNC_ENABLED = True
    friday = datetime.datetime(2026, 11, 20, 6, 0, tzinfo=datetime.UTC)
    SyncState.objects.create(name="ctgov", last_success_at=friday)
    with time_machine.travel(datetime.datetime(2026, 11, 24, 12, 0, tzinfo=datetime.UTC)):
        assert client.get("/healthz").json()["ctgov_sync"] == "ok"  # Monday, Tuesday: 2 days
    with time_machine.travel(datetime.datetime(2026, 11, 25, 12, 0, tzinfo=datetime.UTC)):
        body = client.get("/healthz").json()
    assert body["ctgov_sync"].startswith("stale (last success 2026-11-20")
    assert body["database"] == "ok"


def test_the_sync_is_not_reported_when_it_is_off(client, settings):
    settings.CTGOV_SYNC_ENABLED = False
    assert "ctgov_sync" not in client.get("/healthz").json()


@pytest.fixture(autouse=True)
def _fresh_redis_client():
    redis_module._client.cache_clear()
    yield
    redis_module._client.cache_clear()
