"""Celery tasks for shared notes."""

from celery import shared_task

from notes import services


@shared_task(ignore_result=True)
def purge_expired_shares() -> int:
    # One DELETE rather than a fan-out: nothing else happens per row, and running it twice
    # deletes nothing more.
    return services.purge_expired_shares()
