"""import_ctgov --api and the scheduled sync, against recorded real API responses."""

import datetime
import io
import json

import pytest
import time_machine
from django.core.management import call_command

from tests.conftest import DEMO_DATA
from tests.fakes import RecordedApi
from trials.models import SyncState, Trial
from trials.sync import run_sync

pytestmark = pytest.mark.django_db

PAGE = json.loads((DEMO_DATA.parent / "extra" / "ctgov-page-example.json").read_text())


def last_page(*nct_ids):
    """A final page (no nextPageToken) made of real records, renumbered to be new."""
    studies = []
    for nct in nct_ids:
        record = json.loads((DEMO_DATA / f"{nct}.json").read_text())
        record["protocolSection"]["identificationModule"]["nctId"] = nct.replace("NCT0", "NCT9")
        studies.append(record)
    return {"studies": studies}


@pytest.fixture(autouse=True)
def no_pauses(monkeypatch):
    monkeypatch.setattr("trials.sources.time.sleep", lambda seconds: None)


def test_it_pages_through_the_api_with_the_page_token(settings):
    with RecordedApi([PAGE, last_page("NCT06129864", "NCT06256588")]) as api:
        settings.CTGOV_API_URL = api.url
        out = io.StringIO()
        call_command(
            "import_ctgov",
            "--api",
            "--cond",
            "interstitial lung disease",
            stdout=out,
            stderr=io.StringIO(),
        )
    assert out.getvalue().strip().splitlines()[-1] == "created 2, updated 0, unchanged 5, failed 0"
    first, second = api.requests
    assert first["query.cond"] == "interstitial lung disease"
    assert "pageToken" not in first
    assert second["pageToken"] == PAGE["nextPageToken"]
    assert second["query.cond"] == first["query.cond"]  # same parameters on every page


def test_it_stops_after_max_records(settings):
    with RecordedApi([PAGE, last_page("NCT06129864")]) as api:
        settings.CTGOV_API_URL = api.url
        out = io.StringIO()
        call_command("import_ctgov", "--api", "--max", "3", stdout=out, stderr=io.StringIO())
    assert out.getvalue().strip().endswith("created 0, updated 0, unchanged 3, failed 0")
    assert len(api.requests) == 1
    assert api.requests[0]["pageSize"] == "3"


def test_it_backs_off_and_retries_when_the_api_is_busy(settings):
    with RecordedApi([PAGE], status_codes=[429, 503, 200]) as api:
        settings.CTGOV_API_URL = api.url
        out = io.StringIO()
        call_command("import_ctgov", "--api", stdout=out, stderr=io.StringIO())
    assert "unchanged 5" in out.getvalue()
    assert len(api.requests) == 4  # three tries for page 1, then page 2 (empty, the last)


@time_machine.travel(datetime.datetime(2026, 11, 23, 10, 0, tzinfo=datetime.UTC), tick=False)
def test_the_sync_pulls_updates_since_its_cursor_and_moves_it(settings):
    SyncState.objects.create(name="ctgov", cursor_date=datetime.date(2026, 11, 20))
    with RecordedApi([last_page("NCT06129864")]) as api:
        settings.CTGOV_API_URL = api.url
        result = run_sync()
    assert result == "created 1, updated 0, unchanged 0, failed 0"
    assert api.requests[0]["filter.advanced"] == "AREA[LastUpdatePostDate]RANGE[2026-11-20,MAX]"
    state = SyncState.objects.get(name="ctgov")
    assert state.cursor_date == datetime.date(2026, 11, 23)
    assert state.last_success_at is not None
    assert Trial.objects.filter(nct_id="NCT96129864").exists()


def test_a_failed_sync_keeps_its_cursor(settings):
    SyncState.objects.create(name="ctgov", cursor_date=datetime.date(2026, 11, 20))
    with RecordedApi([], status_codes=[500] * 10) as api:
        settings.CTGOV_API_URL = api.url
        assert run_sync() == "failed"
    state = SyncState.objects.get(name="ctgov")
    assert state.cursor_date == datetime.date(2026, 11, 20)
    assert "HTTP 500" in state.last_error


def test_the_sync_task_does_nothing_unless_enabled(settings):
    from trials.tasks import sync_ctgov

    settings.CTGOV_SYNC_ENABLED = False
    assert sync_ctgov() == "disabled"
    assert not SyncState.objects.exists()
