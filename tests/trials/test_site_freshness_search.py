"""What coordinators say about their sites, in the search: a paused or closed site is not found
"near" (whatever the registry says), and a trial no site vouched for within 90 days ranks lower
than an otherwise identical one."""

import datetime

import pytest
import time_machine
from django.utils import timezone

from patients import sites
from tests.conftest import coordinator
from trials.models import Site, Trial
from trials.search import SearchParams, bump_search_generation, resolve_place, search_trials

pytestmark = pytest.mark.django_db


def found(**params) -> list[str]:
    bump_search_generation()  # nothing from an earlier test's cache
    search, _ = resolve_place(SearchParams(**params))
    return [hit.trial.nct_id for hit in search_trials(search, page_size=50).hits]


def test_a_site_closed_by_its_coordinator_is_not_found_near(
    site_a, bob, django_capture_on_commit_callbacks
):
    assert "NCT05738187" in found(near="Strasbourg", radius_km=10)
    assert found(near="Strasbourg", radius_km=10) == found(near="Strasbourg", radius_km=10)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        sites.site_confirm(site=site_a, user=bob, status="closed")
    assert callbacks  # the cached searches are dropped after commit
    assert "NCT05738187" not in found(near="Strasbourg", radius_km=10)
    # The trial is still found without a place: only "near" relies on its sites.
    assert "NCT05738187" in found(q="cryotherapy")


def test_a_paused_site_is_not_the_nearest_site_shown(bob):
    trial = Trial.objects.get(nct_id="NCT06129864")
    search, _ = resolve_place(SearchParams(q="volrustomig", near="Milan", radius_km=None))

    def nearest() -> dict:
        bump_search_generation()
        return next(h for h in search_trials(search).hits if h.trial == trial).nearest_site

    site = Site.objects.get(pk=nearest()["id"])
    assert nearest()["distance_km"] < 10
    sites.site_confirm(site=site, user=coordinator("dora", site), status="paused")
    assert nearest()["id"] != site.pk


def clone(trial: Trial, nct_id: str) -> Trial:
    """A copy of `trial` (same texts, same dates, same site) under another NCT id."""
    original_sites = list(trial.sites.all())
    trial.pk = trial.id = None
    trial.nct_id = nct_id
    trial.save()
    for site in original_sites:
        site.pk = site.id = None
        site.trial = trial
        site.save()
    return Trial.objects.get(pk=trial.pk)


@pytest.fixture
def twins():
    """Two otherwise identical trials; the first created (lower id) wins a tie."""
    source = Trial.objects.get(nct_id="NCT05738187")
    source.brief_title = "Zorblax cryotherapy for recurrent head and neck cancer"
    source.save()
    stale = clone(Trial.objects.get(pk=source.pk), "NCT99999901")
    fresh = clone(Trial.objects.get(pk=source.pk), "NCT99999902")
    source.brief_title = "Something else"
    source.save()  # through the ORM, so that the search index follows (a bulk update would not)
    return stale, fresh


def test_a_trial_its_site_vouches_for_ranks_above_an_identical_unconfirmed_one(twins):
    _stale, fresh = twins
    assert found(q="zorblax") == ["NCT99999901", "NCT99999902"]  # the tie: by id
    site = fresh.sites.get()
    sites.site_confirm(site=site, user=coordinator("erin", site), status="recruiting")
    assert Trial.objects.get(pk=fresh.pk).sites_confirmed_at is not None
    assert found(q="zorblax") == ["NCT99999902", "NCT99999901"]
    # Near a place, relevance fades with distance the same for both: the confirmed one first.
    assert found(q="zorblax", near="Strasbourg") == ["NCT99999902", "NCT99999901"]
    # Sorting by distance does not look at confirmations.
    assert found(q="zorblax", near="Strasbourg", sort="distance") == ["NCT99999901", "NCT99999902"]


def test_a_confirmation_older_than_90_days_no_longer_lifts_the_trial(twins):
    _stale, fresh = twins
    site = fresh.sites.get()
    sites.site_confirm(site=site, user=coordinator("erin", site), status="recruiting")
    with time_machine.travel(timezone.now() + datetime.timedelta(days=89)):
        assert found(q="zorblax") == ["NCT99999902", "NCT99999901"]
    with time_machine.travel(timezone.now() + datetime.timedelta(days=91)):
        assert found(q="zorblax") == ["NCT99999901", "NCT99999902"]


def test_a_site_marked_closed_does_not_vouch_for_its_trial(twins):
    _stale, fresh = twins
    site = fresh.sites.get()
    user = coordinator("erin", site)
    sites.site_confirm(site=site, user=user, status="recruiting")
    sites.site_confirm(site=site, user=user, status="closed")
    assert Trial.objects.get(pk=fresh.pk).sites_confirmed_at is None
    assert found(q="zorblax") == ["NCT99999901", "NCT99999902"]
