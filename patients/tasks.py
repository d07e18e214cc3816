"""Celery tasks for inquiries. Thin: they take ids (or nothing) and call patients.services."""

from celery import shared_task

from patients import escalation, services, sites


@shared_task(ignore_result=True)
def erase_expired_inquiries() -> int:
    """Daily: one erase task per closed inquiry past the retention period."""
    ids = list(services.inquiries_due_for_erasure().values_list("id", flat=True)[:5000])
    for inquiry_id in ids:
        erase_inquiry.delay(inquiry_id)
    return len(ids)


@shared_task(acks_late=True, ignore_result=True)
def erase_inquiry(inquiry_id: int) -> bool:
    return services.inquiry_erase_if_expired(inquiry_id=inquiry_id)


# --- fresh site status ---------------------------------------------------------------------


@shared_task(ignore_result=True)
def request_site_confirmations() -> int:
    """Daily: one task per site due for its monthly "still recruiting?" email."""
    ids = list(sites.sites_due_for_confirmation().values_list("id", flat=True)[:5000])
    for site_id in ids:
        request_site_confirmation.delay(site_id)
    return len(ids)


@shared_task(acks_late=True, ignore_result=True)
def request_site_confirmation(site_id: int) -> int:
    return sites.site_request_confirmation(site_id=site_id)


# --- escalation of unanswered inquiries ---------------------------------------------------


@shared_task(ignore_result=True)
def escalate_overdue_inquiries() -> int:
    """Hourly: one task per inquiry due for the next escalation level."""
    due = escalation.inquiries_due_for_escalation()
    for inquiry_id, level in due:
        escalate_inquiry.delay(inquiry_id, level)
    return len(due)


@shared_task(acks_late=True, ignore_result=True)
def escalate_inquiry(inquiry_id: int, from_level: int) -> int:
    return escalation.inquiry_escalate(inquiry_id=inquiry_id, from_level=from_level)
