"""Celery tasks for email. Thin: they take ids and call notifications.emails."""

from celery import shared_task

from notifications import emails


@shared_task(acks_late=True, ignore_result=True)
def deliver_email(email_id: int) -> str:
    return emails.deliver(email_id)


@shared_task(ignore_result=True)
def sweep_outbox() -> int:
    return len(emails.sweep())
