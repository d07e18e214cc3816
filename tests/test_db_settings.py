"""Database settings beyond one machine: the read replica's alias and PgBouncer's needs
(config/settings.py, config/db.py). The replica itself is tested for real in tests/cluster/."""

import json
import os
import secrets
import subprocess
import sys

import pytest
from django.conf import settings

from tests.conftest import ROOT

PRINT_DATABASES = (
    "import django, json; django.setup(); from django.conf import settings; "
    "print(json.dumps({a: {k: d[k] for k in ('CONN_MAX_AGE', 'OPTIONS', 'TEST', 'NAME', 'PORT')}"
    " | {'cursors_off': d.get('DISABLE_SERVER_SIDE_CURSORS', False)}"
    " for a, d in settings.DATABASES.items()}))"
)


def _settings(**overrides) -> subprocess.CompletedProcess:
    environ = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_POOLER", "DATABASE_DIRECT_URL", "DATABASE_REPLICA_URL")
    }
    environ.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        SECRET_KEY=secrets.token_urlsafe(50),
        DEBUG="False",
        DOTENV_FILE="/nonexistent",
        DATABASE_URL="postgresql://tf@pgbouncer.internal:6432/trialfinder",
        **overrides,
    )
    return subprocess.run(
        [sys.executable, "-c", PRINT_DATABASES],
        cwd=ROOT, env=environ, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_it_has_one_database_unless_a_replica_is_given():
    result = _settings()
    assert result.returncode == 0, result.stderr
    assert list(json.loads(result.stdout)) == ["default"]


def test_the_replica_alias_reads_the_same_database_in_tests():
    result = _settings(DATABASE_REPLICA_URL="postgresql://tf@replica.internal/trialfinder")
    assert result.returncode == 0, result.stderr
    replica = json.loads(result.stdout)["replica"]
    assert replica["TEST"]["MIRROR"] == "default"
    assert replica["OPTIONS"]["connect_timeout"] == 2  # a dead replica must not hold a page


def test_pgbouncer_turns_off_what_transaction_pooling_breaks():
    result = _settings(
        DATABASE_POOLER="pgbouncer",
        DATABASE_DIRECT_URL="postgresql://tf@db.internal:5432/trialfinder",
        DATABASE_REPLICA_URL="postgresql://tf@pgbouncer.internal:6432/trialfinder_replica",
    )
    assert result.returncode == 0, result.stderr
    for alias in json.loads(result.stdout).values():
        assert alias["cursors_off"] is True
        assert alias["CONN_MAX_AGE"] == 0
        assert alias["OPTIONS"]["prepare_threshold"] is None


def test_pgbouncer_without_a_direct_connection_stops_start_up():
    result = _settings(DATABASE_POOLER="pgbouncer")
    assert result.returncode != 0
    assert "DATABASE_DIRECT_URL" in result.stderr.strip().splitlines()[-1]


def test_a_bad_pooler_or_replica_url_stops_start_up_naming_it():
    for name, value in (("DATABASE_POOLER", "pgpool"), ("DATABASE_REPLICA_URL", "mysql://x/y")):
        result = _settings(**{name: value})
        assert result.returncode != 0
        assert name in result.stderr.strip().splitlines()[-1]


@pytest.mark.django_db
def test_without_a_replica_a_post_sets_no_sticky_cookie_and_healthz_says_nothing(client):
    response = client.post("/i18n/setlang/", {"language": "fr", "next": "/"})
    assert settings.REPLICA_STICKY_COOKIE not in response.cookies
    health = client.get("/healthz").json()
    assert "replica" not in health
