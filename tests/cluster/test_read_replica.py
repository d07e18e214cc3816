"""The read replica, for real: a PostgreSQL primary and a streaming hot standby made with
pg_basebackup (bench/cluster.py), PgBouncer in transaction pooling in front of both when it is
installed, and a gunicorn server with DATABASE_REPLICA_URL.

Which database answered is told apart by what it holds: with the replica's replay paused, a
title changed on the primary is the old one on the replica. Skipped only on a machine without
PostgreSQL's programs (initdb, pg_basebackup); CI has them.
"""

import http.client
import json
import os
import subprocess
import sys
import time
import urllib.parse
import uuid
from functools import partial
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from cluster import Cluster, pg_bin_dir, pgbouncer_bin  # noqa: E402
from soak_stack import MANAGE  # noqa: E402

pytestmark = [
    pytest.mark.skipif(
        pg_bin_dir() is None, reason="no PostgreSQL programs (initdb, pg_basebackup) here"
    ),
    # The cluster's schema is the test database's (below): it must exist, migrated.
    pytest.mark.django_db,
]

DEMO = ROOT / "trials" / "demo_data" / "ctgov"
NCT = "NCT00003454"
SECRET = uuid.uuid4().hex
MAX_LAG = 10  # generous: a busy machine takes seconds to answer
STICKY = 2


def _schema_from(test_db: dict):
    """The cluster's database: the test database's schema (pg_dump | pg_restore: seconds, where
    migrating takes minutes on a busy machine), then one trial through the real importer."""

    def prepare(env: dict, log_dir: Path) -> list[str]:
        bin_dir = pg_bin_dir()
        dump = log_dir / "schema.dump"
        host, port = test_db["HOST"] or "127.0.0.1", str(test_db["PORT"] or 5432)
        if os.environ.get("DATABASE_DIRECT_URL"):
            # Through PgBouncer (make test-pgbouncer): pg_dump needs a session of its own.
            direct = urllib.parse.urlsplit(os.environ["DATABASE_DIRECT_URL"])
            host, port = direct.hostname or host, str(direct.port or 5432)
        source = ["-h", host, "-p", port, "-U", test_db["USER"] or "postgres"]
        with open(log_dir / "setup.log", "a") as log:
            run = partial(subprocess.run, cwd=ROOT, stdout=log, stderr=log, check=True)
            run(
                [str(bin_dir / "pg_dump"), *source, "-Fc", "--schema-only", "-f", str(dump),
                 test_db["NAME"]],
                env={**os.environ, "PGPASSWORD": test_db["PASSWORD"] or ""},
            )  # fmt: skip
            run([str(bin_dir / "pg_restore"), "--no-owner", "-d", env["DATABASE_URL"], str(dump)])
            run([*MANAGE, "import_ctgov", str(DEMO / f"{NCT}.json")], env=env)
        return [NCT]

    return prepare


@pytest.fixture(scope="module")
def cluster(django_db_setup, django_db_blocker):
    with Cluster(
        port=55420,
        web_processes=1,
        web_workers=1,
        pooler=pgbouncer_bin() is not None,
        workers=False,
        durable=False,
        max_lag=MAX_LAG,
        prepare=_schema_from(connection.settings_dict),
        extra_env={
            # Every request asks the replica for its lag: the tests need no waiting for a check.
            "REPLICA_CHECK_SECONDS": "0",
            "REPLICA_STICKY_SECONDS": str(STICKY),
            "ALERTS_WEBHOOK_SECRET": SECRET,
        },
    ) as running:
        yield running


def _get(cluster, path: str, cookie: str = "") -> tuple[int, dict, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", cluster.web_ports[0], timeout=30)
    try:
        conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), json.loads(response.read())
    finally:
        conn.close()


def _title(cluster, cookie: str = "") -> str:
    status, _headers, body = _get(cluster, f"/api/v1/trials/{NCT}", cookie)
    assert status == 200, body
    return body["brief_title"]


def _set_title(cluster, title: str) -> None:
    cluster.pg.query(
        "UPDATE trials_trial SET brief_title = %s WHERE nct_id = %s",
        [title, NCT],
        database="trialfinder",
    )


def _replica_health(cluster) -> tuple[int, str]:
    status, _headers, body = _get(cluster, "/healthz")
    return status, body.get("replica", "")


@pytest.fixture
def replay_paused(cluster):
    """The replica up to date with a fresh commit, then its replay paused.

    The replica measures its lag as the age of the last commit it replayed once WAL waits to
    be replayed: the commit is made just before the pause, after the server is warm.
    """
    _title(cluster)
    _set_title(cluster, f"Fresh {uuid.uuid4().hex}")
    assert cluster.pg.caught_up()
    cluster.pg.pause_replay()
    yield
    cluster.pg.resume_replay()
    assert cluster.pg.caught_up()


def test_it_reads_public_pages_from_the_replica_and_a_writer_from_the_primary(
    cluster, replay_paused
):
    before = _title(cluster)
    _set_title(cluster, "Changed on the primary")
    # The replica has not replayed it: it answered.
    assert _title(cluster) == before, _replica_health(cluster)

    conn = http.client.HTTPConnection("127.0.0.1", cluster.web_ports[0], timeout=30)
    conn.request(
        "POST",
        "/alerts/webhook/bounce/",
        body=json.dumps({"email": "someone@example.org", "type": "complaint"}),
        headers={"X-Webhook-Secret": SECRET, "Content-Type": "application/json"},
    )
    response = conn.getresponse()
    response.read()
    conn.close()
    assert response.status == 200
    cookie = response.getheader("Set-Cookie")
    assert cookie.startswith("tf_primary=1;")
    assert f"Max-Age={STICKY}" in cookie
    # The browser that wrote reads its writes from the primary while the cookie lives.
    assert _title(cluster, "tf_primary=1") == "Changed on the primary"


def test_it_skips_a_replica_whose_replay_lags_beyond_the_limit(cluster, replay_paused):
    _set_title(cluster, "Changed while the replica is stuck")
    assert _replica_health(cluster)[1].startswith("ok")  # paused a moment ago: still in use
    time.sleep(MAX_LAG + 1)
    status, detail = _replica_health(cluster)
    assert status == 200  # replica trouble is not an outage
    assert detail.startswith("skipped: lagging")
    assert _title(cluster) == "Changed while the replica is stuck"


def test_it_reads_from_the_primary_when_the_replica_is_stopped(cluster):
    _set_title(cluster, "Changed before the replica stopped")
    assert cluster.pg.caught_up()
    assert _replica_health(cluster)[1].startswith("ok")
    cluster.pg.stop_replica()
    try:
        _set_title(cluster, "Changed while the replica is down")
        assert _title(cluster) == "Changed while the replica is down"
        status, detail = _replica_health(cluster)
        assert status == 200
        assert detail.startswith("skipped: unreachable")
    finally:
        cluster.pg.start_replica()
    assert cluster.pg.caught_up()
    # Back in use once it answers again (PgBouncer retries its server within seconds).
    deadline = time.monotonic() + 30
    while not _replica_health(cluster)[1].startswith("ok") and time.monotonic() < deadline:
        time.sleep(1)
    assert _replica_health(cluster)[1].startswith("ok")


def test_the_search_generation_waits_until_the_replica_replayed(cluster, replay_paused):
    _set_title(cluster, "An import's commit")
    script = (
        "from config.db import wait_for_replica; print('replayed', wait_for_replica(timeout=2))"
    )
    waited = subprocess.run(
        [*MANAGE, "shell", "-c", script], cwd=ROOT, env=cluster.env, capture_output=True, text=True
    )
    assert "replayed False" in waited.stdout, waited.stderr
    cluster.pg.resume_replay()
    waited = subprocess.run(
        [*MANAGE, "shell", "-c", script], cwd=ROOT, env=cluster.env, capture_output=True, text=True
    )
    assert "replayed True" in waited.stdout, waited.stderr
