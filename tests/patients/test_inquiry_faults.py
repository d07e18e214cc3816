"""No inquiry and no email is ever lost: the whole path with a real Celery worker and a real SMTP
server (aiosmtpd), and each fault: Redis down at submit, SMTP refusing then accepting, a worker
killed between claim and send, the same task delivered twice."""

import datetime
import time
import uuid

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.utils import formats, timezone, translation

from notifications import emails
from notifications.models import EmailStatus, OutgoingEmail
from notifications.tasks import deliver_email
from patients.models import Inquiry
from patients.roles import make_coordinator
from tests.conftest import SEED_DATA, import_records
from tests.fakes import SmtpSink
from trials.models import Site

URL = "/trials/{}/contact/"


def wait_until(condition, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def statuses(inquiry) -> set[str]:
    return set(
        OutgoingEmail.objects.filter(erase_key=inquiry.erase_key).values_list("status", flat=True)
    )


def all_sent(inquiry) -> bool:
    return statuses(inquiry) == {EmailStatus.SENT}


@pytest.fixture
def seeded(transactional_db):
    """Transactional tests start from an empty database: the two seed trials."""
    import_records(SEED_DATA)
    return {
        "strasbourg": Site.objects.get(trial__nct_id="NCT05738187"),
        "rozzano": Site.objects.get(trial__nct_id="NCT07635641"),
    }


def by_recipient(messages) -> dict:
    return {m["To"]: m for m in messages}


@pytest.mark.worker
def test_a_patient_contacts_a_site_and_both_emails_arrive_once_in_their_languages(
    worker_process, client, alice, seeded, settings
):
    site = seeded["rozzano"]
    coordinator = get_user_model().objects.create_user("charlie", password="x")
    make_coordinator(coordinator, site)
    with SmtpSink() as sink:
        worker_process(env=sink.env)
        response = client.post(
            URL.format("NCT07635641"),
            {**alice, "site": site.pk, "preferred_language": "it"},
            HTTP_ACCEPT_LANGUAGE="fr",
        )
        assert response.status_code == 302
        assert "IRCCS Humanitas" in client.get(response["Location"]).content.decode()
        inquiry = Inquiry.objects.get()
        messages = sink.wait_for(2)
        wait_until(lambda: all_sent(inquiry), "both rows marked sent")
        assert len(sink.messages) == 2

    mails = by_recipient(messages)
    assert set(mails) == {settings.TRIAGE_EMAIL, alice["email"]}
    to_team, copy = mails[settings.TRIAGE_EMAIL], mails[alice["email"]]
    assert to_team["Content-Language"] == "en"  # the triage inbox reads English
    assert copy["Content-Language"] == "it"  # the patient chose Italian
    for message, language in ((to_team, "en"), (copy, "it")):
        text = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        assert "Alice" in text and "Alice" in html
        assert f'<html lang="{language}">' in html
        with translation.override(language):
            date = formats.date_format(timezone.localtime(inquiry.created_at), "DATE_FORMAT")
        assert date in text
    assert "/admin/patients/inquiry/" in to_team.get_body(("plain",)).get_content()
    assert "/inquiries/withdraw/" in copy.get_body(("plain",)).get_content()
    assert to_team["Reply-To"] == alice["email"]

    # The site's coordinator sees it in the admin; it was routed and recorded.
    client.force_login(coordinator)
    html = client.get("/admin/patients/inquiry/").content.decode()
    assert "Alice Martin" in html


def break_redis(settings):
    """Point the broker and the portal's Redis client (rate limits, cache) at a closed port."""
    from config.celery import app

    closed = "redis://127.0.0.1:1/0"
    app.conf.broker_url = closed
    reset_broker_pools()
    settings.REDIS_URL = closed
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "LOCATION": closed},
    }


def restore_broker(settings):
    from config.celery import app

    app.conf.broker_url = settings.CELERY_BROKER_URL
    reset_broker_pools()


def reset_broker_pools():
    from kombu import pools

    from config.celery import app

    app.pool.force_close_all()
    app._pool = None
    app.amqp._producer_pool = None
    pools.reset()


@pytest.mark.worker
def test_redis_down_at_submit_loses_nothing_and_the_sweeper_sends_later(
    worker_process, client, alice, seeded, settings
):
    site = seeded["strasbourg"]
    real_redis, real_caches = settings.REDIS_URL, settings.CACHES
    break_redis(settings)
    try:
        started = time.monotonic()
        response = client.post(URL.format("NCT05738187"), {**alice, "site": site.pk})
        elapsed = time.monotonic() - started
        # The patient still gets the confirmation; the inquiry and its emails are saved.
        assert response.status_code == 302
        page = client.get(response["Location"]).content.decode()
        assert "We have sent your contact details to the research team at University" in page
        assert elapsed < 10  # a down Redis fails fast, it does not hang the request
    finally:
        restore_broker(settings)
        settings.REDIS_URL, settings.CACHES = real_redis, real_caches
    inquiry = Inquiry.objects.get()
    assert statuses(inquiry) == {EmailStatus.QUEUED}

    with SmtpSink() as sink:
        worker_process(env=sink.env)
        # Redis is back; at its next run (every minute) the sweeper hands the rows over.
        assert emails.sweep() == []  # just queued: they may still be in the broker's queue
        later = timezone.now() + emails.REENQUEUE_AFTER + datetime.timedelta(seconds=1)
        with time_machine.travel(later):
            handed = emails.sweep()
        assert sorted(handed) == sorted(
            OutgoingEmail.objects.filter(erase_key=inquiry.erase_key).values_list("id", flat=True)
        )
        messages = sink.wait_for(2)
        wait_until(lambda: all_sent(inquiry), "both rows marked sent")
        assert len(sink.messages) == 2
    assert set(by_recipient(messages)) == {settings.TRIAGE_EMAIL, alice["email"]}


def test_smtp_refusing_then_accepting_is_retried_with_backoff_and_sent_once(
    db, settings, site_a, alice, monkeypatch
):
    from tests.patients.conftest import create

    handed = []
    monkeypatch.setattr(deliver_email, "delay", lambda email_id: handed.append(email_id))
    inquiry = create(site_a, alice)
    row = OutgoingEmail.objects.get(erase_key=inquiry.erase_key, template="inquiry-to-site")
    with SmtpSink() as sink:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", sink.port
        sink.refuse(2)  # "451 try again later", twice
        start = timezone.now()
        with time_machine.travel(start, tick=False):
            assert deliver_email(row.id) == "retry"
            assert emails.sweep() == []  # not due: backing off
        row.refresh_from_db()
        assert (row.status, row.attempts) == (EmailStatus.QUEUED, 1)
        assert row.last_error.startswith("SMTPDataError 451")
        assert row.next_attempt_at == start + datetime.timedelta(seconds=30)

        with time_machine.travel(start + datetime.timedelta(seconds=31), tick=False):
            assert row.id in emails.sweep()
            assert deliver_email(row.id) == "retry"
        row.refresh_from_db()
        assert row.next_attempt_at == start + datetime.timedelta(seconds=31 + 60)

        with time_machine.travel(start + datetime.timedelta(seconds=92), tick=False):
            assert row.id in emails.sweep()
            assert deliver_email(row.id) == "sent"
            assert deliver_email(row.id) == "skipped"  # the sweeper's and a late task
        assert len(sink.messages) == 1
    row.refresh_from_db()
    assert (row.status, row.attempts) == (EmailStatus.SENT, 3)
    assert sink.parsed()[0]["Message-ID"] == row.message_id


@pytest.mark.worker
def test_a_worker_killed_between_claim_and_send_loses_nothing_and_sends_once(
    worker_process, seeded, alice, settings
):
    from tests.patients.conftest import create

    with SmtpSink() as sink:
        sink.hold()  # the worker will hang in DATA, as on a slow server
        worker = worker_process(env=sink.env)
        inquiry = create(seeded["strasbourg"], alice)  # commits: both ids go to the broker
        rows = OutgoingEmail.objects.filter(erase_key=inquiry.erase_key)
        wait_until(lambda: sink.in_data == 1, "the worker to be sending")
        (claimed,) = rows.filter(status=EmailStatus.SENDING)
        worker.kill()  # SIGKILL after the claim, before the server accepted the message
        wait_until(lambda: sink.in_data == 0, "the server to see the connection drop")
        sink.release()
        assert sink.messages == []
        claimed.refresh_from_db()
        assert claimed.status == EmailStatus.SENDING  # stuck: nobody will finish it

        # Too early to tell a dead worker from a slow one: the sweeper leaves it alone.
        assert claimed.id not in emails.sweep()
        # Later than STUCK_AFTER (moving the claim back in time rather than the clock: the
        # worker runs in another process, on the real clock).
        rows.filter(pk=claimed.pk).update(
            claimed_at=claimed.claimed_at - emails.STUCK_AFTER - datetime.timedelta(seconds=1),
            enqueued_at=timezone.now() - emails.REENQUEUE_AFTER - datetime.timedelta(seconds=1),
        )
        worker_process(env=sink.env)  # a new worker picks up the other email...
        assert claimed.id in emails.sweep()  # ...and the swept one
        messages = sink.wait_for(2)
        wait_until(lambda: all_sent(inquiry), "both rows marked sent")
        assert len(sink.messages) == 2
    assert len({m["Message-ID"] for m in messages}) == 2  # one of each, none twice
    claimed.refresh_from_db()
    assert claimed.attempts == 2


@pytest.mark.worker
def test_the_same_task_delivered_twice_sends_once(worker_process, seeded, alice, monkeypatch):
    from tests.patients.conftest import create

    monkeypatch.setattr(deliver_email, "delay", lambda email_id: None)
    inquiry = create(seeded["rozzano"], alice)  # rows committed, nothing enqueued yet
    row = OutgoingEmail.objects.get(erase_key=inquiry.erase_key, template="inquiry-to-site")
    monkeypatch.undo()
    marker = OutgoingEmail.objects.create(
        template="test",
        language="en",
        to_email="marker@example.org",
        subject="marker",
        body_text="marker",
        message_id=f"<{uuid.uuid4()}@trialfinder.localhost>",
    )
    with SmtpSink() as sink:
        worker_process(env=sink.env)
        assert emails.enqueue(row.id) and emails.enqueue(row.id)  # a redelivery
        assert emails.enqueue(marker.id)  # the worker runs tasks in order: this one comes last
        messages = sink.wait_for(2)
        wait_until(
            lambda: OutgoingEmail.objects.get(pk=marker.pk).status == EmailStatus.SENT, "marker"
        )
        assert [m["Subject"] for m in sink.parsed()][-1] == "marker"
        assert len(sink.messages) == 2
    assert sum(1 for m in messages if m["Message-ID"] == row.message_id) == 1
    row.refresh_from_db()
    assert (row.status, row.attempts) == (EmailStatus.SENT, 1)


def test_a_permanent_refusal_fails_the_row_visibly_without_the_address(
    db, settings, site_a, alice, monkeypatch
):
    from tests.patients.conftest import create

    monkeypatch.setattr(deliver_email, "delay", lambda email_id: None)
    inquiry = create(site_a, alice)
    row = OutgoingEmail.objects.get(erase_key=inquiry.erase_key, template="inquiry-copy")
    with SmtpSink() as sink:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", sink.port
        sink.refuse(1, f"550 5.1.1 <{alice['email']}> no such user")
        assert deliver_email(row.id) == "failed"
    row.refresh_from_db()
    assert row.status == EmailStatus.FAILED
    assert "550" in row.last_error and alice["email"] not in row.last_error
