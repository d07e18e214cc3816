"""Celery tasks for patients' data. Thin: they call the services."""

from celery import shared_task

from patients import notes


@shared_task(ignore_result=True)
def purge_expired_shares() -> int:
    # One DELETE rather than a fan-out: nothing else happens per row, and running it twice
    # deletes nothing more.
    return notes.purge_expired_shares()
