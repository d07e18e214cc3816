"""Celery tasks for email and alerts. Thin: they take ids and call the modules that work."""

from celery import shared_task

from notifications import alerts, emails


@shared_task(acks_late=True, ignore_result=True)
def deliver_email(email_id: int) -> str:
    return emails.deliver(email_id)


@shared_task(ignore_result=True)
def sweep_outbox() -> int:
    return len(emails.sweep())


@shared_task(acks_late=True, ignore_result=True)
def match_alerts() -> int:
    """After each import, and every few minutes by beat: match new trial versions."""
    return alerts.match_new_versions()


@shared_task(ignore_result=True)
def send_due_digests(frequency: str) -> int:
    """Beat: fan out one digest task per subscriber who has something to hear."""
    subscriber_ids = alerts.due_subscribers(frequency)
    for subscriber_id in subscriber_ids:
        send_digest.delay(subscriber_id, frequency)
    return len(subscriber_ids)


@shared_task(acks_late=True, ignore_result=True)
def send_digest(subscriber_id: int, frequency: str) -> int | None:
    return alerts.digest_send(subscriber_id=subscriber_id, frequency=frequency)


@shared_task(ignore_result=True)
def expire_unconfirmed_alerts() -> int:
    return alerts.expire_unconfirmed()
