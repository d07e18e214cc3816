from celery import shared_task
from django.conf import settings

from trials.importer import ImportLocked


@shared_task(ignore_result=True)
def sync_ctgov() -> str:
    """Beat, hourly: off unless CTGOV_SYNC_ENABLED; skips when another import holds the lock."""
    if not settings.CTGOV_SYNC_ENABLED:
        return "disabled"
    from trials.sync import run_sync

    try:
        return run_sync()
    except ImportLocked:
        return "skipped: another import is running"


@shared_task(ignore_result=True)
def refresh_vocabularies() -> str:
    """Beat, daily: the vocabularies learned from every trial again (an hourly import only adds
    what its changed trials bring; counts, averages and forgotten names are redone here)."""
    from trials.importer import refresh_vocabularies as refresh

    refresh()
    return "refreshed"
