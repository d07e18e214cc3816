"""Exactly one Celery beat schedules, however many are started; a standby takes over when the
holder dies. Real Redis; the last test runs real `celery beat` processes."""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from config.beatlock import BeatLock
from config.redis import get_redis

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def key():
    name = f"{settings.CELERY_BROKER_TRANSPORT_OPTIONS['global_keyprefix']}lock-{uuid.uuid4().hex}"
    yield name
    get_redis().delete(name)


def test_a_second_beat_cannot_take_a_held_lock(key):
    first, second = BeatLock(get_redis(), key=key), BeatLock(get_redis(), key=key)
    assert first.acquire()
    assert not second.acquire()
    assert not second.renew(), "renewing must not steal another beat's lock"
    assert first.renew()


def test_releasing_only_frees_the_holders_own_lock(key):
    first, second = BeatLock(get_redis(), key=key), BeatLock(get_redis(), key=key)
    assert first.acquire()
    second.release()
    assert get_redis().get(key).decode() == first.token
    first.release()
    assert second.acquire()


def test_a_dead_holders_lock_expires_and_the_standby_takes_it(key):
    holder = BeatLock(get_redis(), key=key, ttl=1)
    standby = BeatLock(get_redis(), key=key, ttl=1)
    assert holder.acquire()  # and then never renews, as if killed
    started = time.monotonic()
    assert standby.wait(poll=0.1)
    assert 0.5 < time.monotonic() - started < 3


def _start_beat(tmp_path: Path, name: str, env: dict) -> tuple[subprocess.Popen, Path]:
    log = tmp_path / f"{name}.log"
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel=INFO",
            f"--schedule={tmp_path / name}-schedule",
        ],
        cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    return proc, log


# Deadlines, not durations: generous because a busy 2-core machine starts Django slowly.
def _wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_two_beat_processes_one_schedules_the_other_takes_over_when_it_is_killed(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.test_settings",
        # A lock key of their own and a short TTL, so that the takeover takes seconds.
        "CELERY_KEY_PREFIX": f"beat-test-{uuid.uuid4().hex[:8]}:",
        "BEAT_LOCK_TTL_SECONDS": "3",
    }
    a, log_a = _start_beat(tmp_path, "a", env)
    procs = [a]
    try:
        assert _wait_for(lambda: "this beat holds" in log_a.read_text(), 90), log_a.read_text()
        b, log_b = _start_beat(tmp_path, "b", env)
        procs.append(b)
        assert _wait_for(lambda: "standing by" in log_b.read_text(), 90), log_b.read_text()
        time.sleep(2)  # longer than a renewal period: the holder keeps its lock
        assert "this beat holds" not in log_b.read_text()

        a.kill()  # SIGKILL: no chance to release the lock
        a.wait(10)
        assert _wait_for(lambda: "this beat holds" in log_b.read_text(), 45), log_b.read_text()
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(15)


def test_split_queues_send_emails_alerts_and_imports_to_their_own_queues():
    code = (
        "from config.celery import app\n"
        "route = lambda name: app.amqp.router.route({}, name)['queue'].name\n"
        "print(route('notifications.tasks.deliver_email'),"
        " route('notifications.tasks.send_digest'),"
        " route('trials.tasks.sync_ctgov'), route('patients.tasks.erase_inquiry'))\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.test_settings"}
    split = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**env, "CELERY_SPLIT_QUEUES": "True"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert split == ["email", "alerts", "import", settings.CELERY_TASK_DEFAULT_QUEUE]
    single = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**env, "CELERY_SPLIT_QUEUES": "False"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert set(single) == {settings.CELERY_TASK_DEFAULT_QUEUE}
