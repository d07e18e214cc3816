"""What /healthz says about trials (config/views.healthz asks every app's health_checks())."""

import datetime

from django.conf import settings
from django.utils import timezone

from trials.models import SyncState


def business_days_between(start: datetime.date, end: datetime.date) -> int:
    """Weekdays after `start` up to and including `end` (the registry updates on weekdays)."""
    days = 0
    current = start
    while current < end:
        current += datetime.timedelta(days=1)
        if current.weekday() < 5:
            days += 1
    return days


def sync_health() -> str:
    state = SyncState.objects.filter(name="ctgov").first()
    if state is None or state.last_success_at is None:
        return "stale (never succeeded)"
    last = timezone.localdate(state.last_success_at)
    late = business_days_between(last, timezone.localdate())
    if late > settings.CTGOV_SYNC_STALE_BUSINESS_DAYS:
        return f"stale (last success {last.isoformat()}, {late} business days ago)"
    return "ok"


def checks() -> dict[str, tuple[str, bool]]:
    """name -> (what /healthz shows, whether the probe passes)."""
    found = {}
    if settings.CTGOV_SYNC_ENABLED:
        # A stale sync is reported, not failed: the portal still serves what it has, and a
        # load balancer must not take web processes out for it.
        found["ctgov_sync"] = (sync_health(), True)
    found["search_index"] = search_index_health()
    return found


# An index behind the database by more than this is a failure (each import updates it in the
# same run; `manage.py search_index sync` follows on other hosts): shorter gaps are reported.
SEARCH_INDEX_BEHIND_SECONDS = 600


def search_index_health() -> tuple[str, bool]:
    """The search index: missing or corrupt fails the probe (searches would answer 503)."""
    from trials import engine

    state = engine.status()
    if state["state"] in ("missing", "corrupt"):
        return f"{state['state']} ({state.get('error') or state['path']})", False
    if state["state"] == "behind":
        assert state["db_watermark"]  # behind: the database has a newer change than the index
        db = datetime.datetime.fromisoformat(state["db_watermark"])
        index = state["index_watermark"]
        lag = (db - datetime.datetime.fromisoformat(index)).total_seconds() if index else None
        if lag is None or lag > SEARCH_INDEX_BEHIND_SECONDS:
            return f"behind the database (index up to {index}, database {db.isoformat()})", False
        return f"behind the database by {lag:.0f} s (updating)", True
    return f"ok ({state['documents']} trials)", True
