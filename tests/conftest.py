"""Shared fixtures.

The test database is real PostgreSQL (DATABASE_URL) and holds the demo trials: the real
ClinicalTrials.gov records of trials/demo_data/ctgov, imported once per session. Tests run in a
transaction that is rolled back, so they may change those trials freely. Transactional tests
(real workers, live servers) run last and start from an empty database: they import what they
need with `import_records`.
"""

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from trials.importer import Importer, after_import
from trials.sources import iter_source

ROOT = Path(__file__).resolve().parent.parent
DEMO_DATA = ROOT / "trials" / "demo_data" / "ctgov"
SEED_DATA = ROOT / "trials" / "demo_data" / "reconstructed"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def import_records(*paths) -> "Importer":
    """Import study files or folders through the real importer; returns its stats."""
    importer = Importer()
    for path in paths:
        importer.run(iter_source(path))
    after_import(importer.stats)
    return importer.stats


def ensure_gazetteer() -> None:
    """The gazetteer is loaded by a migration, but a transactional test's flush empties every
    table: reload it when it is gone."""
    from trials.geo import load_gazetteer
    from trials.models import Place

    if not Place.objects.exists():
        load_gazetteer()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        ensure_gazetteer()
        stats = import_records(DEMO_DATA, SEED_DATA)
        assert stats.failed == 0, stats.summary()


_index_dirty = {"transactional": False}


@pytest.fixture(autouse=True)
def search_index_follows_the_database(request, django_db_blocker):
    """The search index is built with the demo trials (after_import). A test's rolled-back
    writes, or a transactional test's flush, leave it holding what the database no longer
    does: the next test puts it back first (by then the rollback or flush is done)."""
    from trials import engine

    if engine._touched or _index_dirty["transactional"]:
        from trials.models import Trial

        with django_db_blocker.unblock():
            touched = list(engine._touched)
            if touched:
                engine.update(touched)
            engine._touched.clear()
            if engine.READER.searcher().num_docs != Trial.objects.count():
                engine.rebuild()
    _index_dirty["transactional"] = "transactional_db" in request.fixturenames or (
        "live_server" in request.fixturenames
    )
    yield


@pytest.fixture
def demo_study_path():
    def path(nct_id: str) -> Path:
        return DEMO_DATA / f"{nct_id}.json"

    return path


def start_django(then: str = "", **environ: str | None) -> subprocess.CompletedProcess:
    """A Python process that sets Django up from config.settings as a deployment does (no .env
    file), on this run's environment with `environ` over it (None: unset), then runs `then`."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DOTENV_FILE": "/nonexistent",
        **environ,
    }
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {then}"],
        cwd=ROOT,
        env={name: value for name, value in env.items() if value is not None},
        capture_output=True,
        text=True,
        timeout=60,
    )


# --- real Celery workers -------------------------------------------------------------------


def worker_database_url() -> str:
    """DATABASE_URL of the test database, for worker processes."""
    db = connection.settings_dict
    host = db["HOST"] or ""
    if host.startswith("/"):
        return f"postgresql://{db['USER']}@/{db['NAME']}?host={host}"
    port = f":{db['PORT']}" if db["PORT"] else ""
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgresql://{auth}@{host or 'localhost'}{port}/{db['NAME']}"


class WorkerProcess:
    """A `celery worker` process on the real Redis and the test database."""

    def __init__(self, env: dict[str, str] | None = None):
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.test_settings",
            "DATABASE_URL": worker_database_url(),
            **(env or {}),
        }
        self.proc: subprocess.Popen | None = None
        self.log = Path(f"/tmp/tf-worker-{uuid.uuid4().hex[:8]}.log")

    def start(self, timeout: float = 90.0) -> "WorkerProcess":
        from config.celery import app

        name = f"test-{uuid.uuid4().hex[:8]}@localhost"
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "config", "worker",
                "--pool=solo", "--loglevel=INFO", "-n", name,
                "-Q", settings.CELERY_TASK_DEFAULT_QUEUE,
                "--without-gossip", "--without-mingle",
            ],
            cwd=ROOT, env=self.env, stdout=self.log.open("wb"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited: {self.log.read_text()[-3000:]}")
            if app.control.ping(destination=[name], timeout=0.5):
                return self
        # Never leave it running: a worker that answers late would take the next tests' tasks
        # (with this test's SMTP settings) from the shared queue, failing them one after another.
        log = self.log.read_text()[-3000:]
        self.kill()
        raise RuntimeError(f"worker did not answer: {log}")

    def kill(self):
        """SIGKILL: no shutdown, no ack, as when the OOM killer or a crash takes the worker."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.unlink(missing_ok=True)


def purge_test_queue():
    """Drop tasks a previous test left in this run's queue."""
    from config.celery import app

    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(settings.CELERY_TASK_DEFAULT_QUEUE)


@pytest.fixture
def worker_process(transactional_db):
    """Start real Celery worker processes: `worker = worker_process(env={...})`."""
    purge_test_queue()
    started = []

    def start(env=None):
        worker = WorkerProcess(env).start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


# --- browsers --------------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def clear_rate_limits() -> None:
    """Forget every rate-limit counter of this test run (keys carry the run's prefix)."""
    from config.redis import get_redis

    prefix = settings.CACHES["default"].get("KEY_PREFIX", "")
    redis = get_redis()
    for key in redis.scan_iter(f"{prefix}:rl:*"):
        redis.delete(key)


@pytest.fixture
def fresh_rate_limits():
    """The test starts (and leaves) with no submission counted against anyone. Folders and
    modules whose tests post forms use it for every test (tests/patients/conftest.py)."""
    clear_rate_limits()
    yield
    clear_rate_limits()


# --- personas -----------------------------------------------------------------------------------
# Site A: University Hospital, Strasbourg (NCT05738187, no contact at all: routed to triage).
# Site B: IRCCS Humanitas, Rozzano (NCT07635641, no contact either).
SITE_A_TRIAL = "NCT05738187"
SITE_B_TRIAL = "NCT07635641"


@pytest.fixture
def site_a(db):
    from trials.models import Site

    return Site.objects.get(trial__nct_id=SITE_A_TRIAL)


@pytest.fixture
def site_b(db):
    from trials.models import Site

    return Site.objects.get(trial__nct_id=SITE_B_TRIAL)


# A patient whose every detail is unusual enough to be found by a grep of the database or the logs
# (tests/patients/test_patient_data_privacy.py, tests/test_access_logs.py).
ZEYNEP = {
    "first_name": "Zeynep",
    "last_name": "Quillfeather",
    "email": "zq-7731@example.org",
    "phone": "+33 6 71 23 45 89",
    "preferred_language": "en",
    "other_language": "",
    "message": "My oncologist mentioned recurrence-detail-8831 last spring.",
    "consent": "on",
    "step": "send",
}


@pytest.fixture
def alice():
    """A patient: what she types in the contact form (a site is added by each test)."""
    return {
        "first_name": "Alice",
        "last_name": "Martin",
        "email": "alice.martin@example.org",
        "phone": "+33 6 12 34 56 78",
        "preferred_language": "fr",
        "other_language": "",
        "message": "J'ai été traitée en 2023 pour un cancer ORL. Puis-je participer ?",
        "consent": "on",
        "step": "send",
    }


def coordinator(username: str, *sites):
    from django.contrib.auth import get_user_model

    from patients.roles import make_coordinator

    user = get_user_model().objects.create_user(
        username, f"{username}@site.example.org", "a-long-test-password", is_staff=True
    )
    make_coordinator(user, *sites)
    return user


@pytest.fixture
def bob(site_a):
    """Coordinator of site A."""
    return coordinator("bob", site_a)


@pytest.fixture
def charlie(site_b):
    """Coordinator of site B: must see none of site A's inquiries."""
    return coordinator("charlie", site_b)
