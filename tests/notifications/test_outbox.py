"""The outbox: every email is a row first; workers claim it, send it at most once, retry
transient failures with backoff, and the sweeper recovers what a lost task or dead worker left."""

import datetime
import smtplib
import time
import uuid

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from notifications import emails
from notifications.models import EmailStatus, OutgoingEmail
from notifications.tasks import deliver_email, sweep_outbox
from tests.fakes import SmtpSink

pytestmark = pytest.mark.django_db


def make_email(**fields) -> OutgoingEmail:
    defaults = {
        "template": "test",
        "language": "en",
        "to_email": "alice@example.org",
        "subject": "Your message was sent",
        "body_text": "Hello Alice",
        "body_html": "<p>Hello Alice</p>",
        "message_id": f"<{uuid.uuid4()}@trialfinder.localhost>",
    }
    return OutgoingEmail.objects.create(**{**defaults, **fields})


class FlakyBackend:
    """An email backend whose SMTP server answers with the given errors, then accepts."""

    errors: list[Exception] = []

    def __init__(self, *args, **kwargs):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def open(self):
        return True

    def close(self):
        pass

    def send_messages(self, messages):
        if FlakyBackend.errors:
            raise FlakyBackend.errors.pop(0)
        mail.outbox.extend(messages)
        return len(messages)


@pytest.fixture
def flaky(monkeypatch):
    monkeypatch.setattr(emails, "get_connection", lambda **kwargs: FlakyBackend())
    FlakyBackend.errors = []
    return FlakyBackend


def test_it_sends_a_queued_email_once_with_text_and_html():
    email = make_email()
    assert emails.deliver(email.id) == "sent"
    assert emails.deliver(email.id) == "skipped"  # a redelivered task
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["alice@example.org"]
    assert message.body == "Hello Alice"
    assert message.alternatives[0] == ("<p>Hello Alice</p>", "text/html")
    assert message.extra_headers["Message-ID"] == email.message_id
    email.refresh_from_db()
    assert (email.status, email.attempts) == (EmailStatus.SENT, 1)
    assert email.sent_at is not None


def test_the_same_task_delivered_twice_sends_once():
    email = make_email()
    deliver_email(email.id)
    deliver_email(email.id)
    assert len(mail.outbox) == 1


def test_a_transient_smtp_failure_is_retried_with_exponential_backoff(flaky):
    flaky.errors = [
        smtplib.SMTPServerDisconnected("gone"),
        smtplib.SMTPResponseException(451, b"4.3.0 try later for alice@example.org"),
    ]
    email = make_email()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert emails.deliver(email.id) == "retry"
        email.refresh_from_db()
        assert email.status == EmailStatus.QUEUED
        assert email.next_attempt_at == start + datetime.timedelta(seconds=30)
        assert emails.deliver(email.id) == "skipped"  # not due yet
    with time_machine.travel(start + datetime.timedelta(seconds=31), tick=False):
        assert emails.deliver(email.id) == "retry"
        email.refresh_from_db()
        assert email.next_attempt_at == start + datetime.timedelta(seconds=31 + 60)
        assert "451" in email.last_error
        assert "alice@example.org" not in email.last_error  # never an address in the log
    with time_machine.travel(start + datetime.timedelta(seconds=95), tick=False):
        assert emails.deliver(email.id) == "sent"
    email.refresh_from_db()
    assert (email.status, email.attempts) == (EmailStatus.SENT, 3)
    assert len(mail.outbox) == 1


def test_a_permanent_smtp_failure_fails_the_row(flaky):
    flaky.errors = [smtplib.SMTPRecipientsRefused({"alice@example.org": (550, b"no such user")})]
    email = make_email()
    assert emails.deliver(email.id) == "failed"
    email.refresh_from_db()
    assert email.status == EmailStatus.FAILED
    assert email.last_error.startswith("SMTPRecipientsRefused 550")


def test_it_gives_up_after_the_last_attempt(flaky):
    flaky.errors = [ConnectionRefusedError("refused")]
    email = make_email(attempts=emails.MAX_ATTEMPTS - 1)
    assert emails.deliver(email.id) == "failed"


def test_the_sweeper_requeues_an_email_whose_worker_died_mid_send():
    email = make_email()
    now = timezone.now()
    # Claimed by a worker that was then killed: SENDING forever, unless swept.
    OutgoingEmail.objects.filter(id=email.id).update(
        status=EmailStatus.SENDING, claimed_at=now, attempts=1, enqueued_at=now
    )
    assert emails.sweep() == []  # too early: the worker may still be sending
    with time_machine.travel(now + emails.STUCK_AFTER + datetime.timedelta(seconds=1)):
        handed = emails.sweep()
        assert handed == [email.id]
        assert emails.deliver(email.id) == "sent"
    assert len(mail.outbox) == 1


def test_the_sweeper_enqueues_what_the_broker_never_received(
    django_capture_on_commit_callbacks, monkeypatch
):
    sent = []
    monkeypatch.setattr(deliver_email, "delay", lambda email_id: sent.append(email_id))
    old = timezone.now() - datetime.timedelta(minutes=10)
    lost = make_email(enqueued_at=old, created_at=old)
    just_queued = make_email(enqueued_at=timezone.now())
    assert sweep_outbox() == 1
    assert sent == [lost.id]
    assert just_queued.id not in sent


def test_queueing_hands_the_id_to_the_broker_only_after_commit(
    django_capture_on_commit_callbacks, monkeypatch
):
    sent = []
    monkeypatch.setattr(deliver_email, "delay", lambda email_id: sent.append(email_id))
    monkeypatch.setattr(emails, "render_to_string", lambda name, ctx: f"{name} for {ctx['who']}")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        email = emails.queue_email(
            "inquiry-to-site", to="site@example.org", context={"who": "x"}, language="fr"
        )
        assert sent == []
    assert len(callbacks) == 1
    assert sent == [email.id]
    assert email.subject == "emails/inquiry-to-site-subject.txt for x"
    assert email.language == "fr"


def test_a_broker_that_is_down_does_not_fail_the_caller(settings):
    from config.celery import app

    def reset_pools():
        from kombu import pools

        app.pool.force_close_all()
        app._pool = None
        app.amqp._producer_pool = None
        pools.reset()

    app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens there
    reset_pools()
    try:
        started = time.monotonic()
        assert emails.enqueue(123) is False
        assert time.monotonic() - started < 5
    finally:
        app.conf.broker_url = settings.CELERY_BROKER_URL
        reset_pools()


def test_retry_now_requeues_failed_emails(django_capture_on_commit_callbacks, monkeypatch):
    sent = []
    monkeypatch.setattr(deliver_email, "delay", lambda email_id: sent.append(email_id))
    failed = make_email(status=EmailStatus.FAILED, last_error="SMTPRecipientsRefused 550")
    done = make_email(status=EmailStatus.SENT)
    with django_capture_on_commit_callbacks(execute=True):
        count = emails.retry_now(OutgoingEmail.objects.filter(id__in=[failed.id, done.id]))
    assert count == 1 and sent == [failed.id]
    failed.refresh_from_db()
    assert failed.status == EmailStatus.QUEUED


@pytest.mark.worker
def test_a_real_worker_sends_through_a_real_smtp_server(worker_process):
    with SmtpSink() as sink:
        worker_process(env=sink.env)
        email = make_email(to_email="patient@example.org", subject="Votre message a été envoyé")
        emails.enqueue(email.id)
        (message,) = sink.wait_for(1)
        assert message["To"] == "patient@example.org"
        assert message["Subject"] == "Votre message a été envoyé"
        assert message.get_body(("plain",)).get_content().strip() == "Hello Alice"
        assert message.get_body(("html",)).get_content().strip() == "<p>Hello Alice</p>"
        deadline = time.monotonic() + 10
        while OutgoingEmail.objects.get(id=email.id).status != EmailStatus.SENT:
            assert time.monotonic() < deadline
            time.sleep(0.05)


def test_a_sent_email_is_recorded_even_if_the_database_blinks(monkeypatch):
    from django.db import OperationalError
    from django.db.models import QuerySet

    email = make_email()
    real_update = QuerySet.update
    calls = []

    def flaky_update(self, **kwargs):
        if kwargs.get("status") == EmailStatus.SENT and len(calls) < 2:
            calls.append(1)
            raise OperationalError("server closed the connection unexpectedly")
        return real_update(self, **kwargs)

    monkeypatch.setattr(QuerySet, "update", flaky_update)
    monkeypatch.setattr(emails.time, "sleep", lambda seconds: None)
    assert emails.deliver(email.id) == "sent"
    email.refresh_from_db()
    assert email.status == EmailStatus.SENT and len(calls) == 2
    assert len(mail.outbox) == 1
