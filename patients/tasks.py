"""Celery tasks for inquiries. Thin: they take ids (or nothing) and call patients.services."""

from celery import shared_task

from patients import notes, services


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


# --- private notes ----------------------------------------------------------------------


@shared_task(ignore_result=True)
def purge_expired_shares() -> int:
    # One DELETE rather than a fan-out: nothing else happens per row, and running it twice
    # deletes nothing more.
    return notes.purge_expired_shares()
