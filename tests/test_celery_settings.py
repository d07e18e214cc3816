"""The Celery settings that make "nothing lost" true, asserted so that changing one fails a test.

A task is acknowledged only when it finished and requeued when its worker dies (acks_late,
reject_on_worker_lost, one message prefetched at a time). Redis redelivers an unacknowledged
message after the visibility timeout, so no task may be scheduled further ahead than that (it
would be delivered twice). Publishing happens on the request path: with Redis down it must give
up within a second or two, never hang the patient's request.
"""

import ast
import socket
import time
from pathlib import Path

import pytest
from celery import Celery
from celery.schedules import crontab
from django.conf import settings

from config.celery import app

ROOT = Path(__file__).resolve().parent.parent
APPS = ("config", "notifications", "patients", "trials")
# Keywords that schedule a message in the future or delay a retry.
DELAY_KEYWORDS = {"countdown", "eta", "default_retry_delay", "retry_backoff_max"}


def our_tasks():
    app.loader.import_default_modules()
    return {name: task for name, task in app.tasks.items() if name.split(".")[0] in APPS}


def test_it_acknowledges_tasks_only_when_they_finished_and_requeues_them_if_the_worker_died():
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1


def test_no_task_of_ours_opts_out_of_late_acknowledgement():
    tasks = our_tasks()
    assert "notifications.tasks.deliver_email" in tasks
    for name, task in tasks.items():
        assert task.acks_late is True, name
        assert task.reject_on_worker_lost in (None, True), name  # None: the app's True


def test_the_visibility_timeout_reaches_the_broker_and_outlasts_the_outbox_recovery():
    visibility = app.conf.broker_transport_options["visibility_timeout"]
    assert visibility == settings.CELERY_REDIS_VISIBILITY_TIMEOUT
    # A worker killed mid-send: the sweeper resends long before Redis would redeliver the task.
    sweep_every = settings.CELERY_BEAT_SCHEDULE["sweep-outbox"]["schedule"]
    assert settings.OUTBOX_STUCK_AFTER_SECONDS + sweep_every < visibility
    # A send that is still running is never redelivered to a second worker.
    assert visibility > settings.EMAIL_TIMEOUT


def _delays_in_source() -> list[tuple[str, int, str, ast.expr]]:
    found = []
    for app_name in APPS:
        for path in (ROOT / app_name).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text(), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Call):
                    for keyword in node.keywords:
                        if keyword.arg in DELAY_KEYWORDS:
                            found.append((str(path), node.lineno, keyword.arg, keyword.value))
    return found


def test_no_countdown_or_eta_in_the_code_exceeds_the_visibility_timeout():
    """Retries are scheduled in PostgreSQL (next_attempt_at), not with a broker countdown. A
    countdown or ETA written in the code must be a constant below the visibility timeout."""
    visibility = settings.CELERY_REDIS_VISIBILITY_TIMEOUT
    for path, line, keyword, value in _delays_in_source():
        where = f"{path}:{line} {keyword}="
        assert isinstance(value, ast.Constant), f"{where} is not a constant: check it by hand"
        assert isinstance(value.value, int | float), where
        assert value.value < visibility, f"{where}{value.value} outlasts the visibility timeout"


def test_no_task_retries_later_than_the_visibility_timeout():
    visibility = settings.CELERY_REDIS_VISIBILITY_TIMEOUT
    for name, task in our_tasks().items():
        if task.default_retry_delay is not None:
            assert task.default_retry_delay < visibility, name
        backoff_max = getattr(task, "retry_backoff_max", None)
        if getattr(task, "autoretry_for", ()) and backoff_max is not None:
            assert backoff_max < visibility, name


def test_no_beat_entry_is_published_with_a_countdown_or_eta_beyond_the_visibility_timeout():
    visibility = settings.CELERY_REDIS_VISIBILITY_TIMEOUT
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        options = entry.get("options", {})
        assert "eta" not in options, name
        assert options.get("countdown", 0) < visibility, name
        assert isinstance(entry["schedule"], float | int | crontab), name
        assert entry["task"] in app.tasks or entry["task"].split(".")[0] in APPS, name


def test_publishing_gives_up_fast_and_does_not_retry():
    assert app.conf.task_publish_retry is False
    assert app.conf.broker_connection_timeout <= 2
    options = app.conf.broker_transport_options
    assert options["max_retries"] == 0  # kombu would retry the connection for ~2 s otherwise
    assert options["socket_connect_timeout"] <= 2
    assert options["socket_timeout"] <= 5


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when we return: connections are refused


@pytest.mark.parametrize("host", ["127.0.0.1", "192.0.2.1"])  # refused; unroutable (TEST-NET-1)
def test_with_the_broker_unreachable_a_publish_fails_within_seconds(host):
    """The same settings against a broker that refuses or never answers: the request path
    (emails.enqueue) gets an error quickly instead of hanging."""
    probe = Celery("probe")
    probe.config_from_object("django.conf:settings", namespace="CELERY")
    probe.conf.broker_url = f"redis://{host}:{_closed_port()}/0"
    for _attempt in range(2):  # the first one also imports the transport
        started = time.monotonic()
        with pytest.raises(Exception):  # noqa: B017 - kombu and redis raise many types
            probe.send_task("notifications.tasks.deliver_email", args=[1])
    # Two emails per inquiry: the request waits at most twice this.
    assert time.monotonic() - started < 1.5
