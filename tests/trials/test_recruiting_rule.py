""" "Which site counts as recruiting" is written once, as Site.objects.recruiting(); the SQL the
search and its index use for "near" (trials.search.SITE_ELIGIBLE_SQL) is tested against it."""

import pytest
from django.db import connection

from trials.models import CoordinatorStatus, Site
from trials.search import SITE_ELIGIBLE_SQL

pytestmark = pytest.mark.django_db


def eligible_in_sql() -> set[int]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT s.id FROM trials_site s WHERE {SITE_ELIGIBLE_SQL}")  # noqa: S608
        return {row[0] for row in cursor.fetchall()}


def test_near_finds_the_recruiting_sites_that_have_a_place_and_those_whose_status_is_not_stated():
    paused, closed = Site.objects.recruiting().filter(latitude__isnull=False)[:2]
    Site.objects.filter(pk=paused.pk).update(coordinator_status=CoordinatorStatus.PAUSED)
    Site.objects.filter(pk=closed.pk).update(coordinator_status=CoordinatorStatus.CLOSED)
    located = Site.objects.filter(latitude__isnull=False)
    recruiting = set(located.recruiting().values_list("id", flat=True))
    # A registry record that states no status for a site of a recruiting trial: "near" still
    # finds it (the trial's status speaks for it); the contact form does not offer it.
    not_stated = set(
        located.current()
        .filter(status="")
        .exclude(coordinator_status__in=[CoordinatorStatus.PAUSED, CoordinatorStatus.CLOSED])
        .values_list("id", flat=True)
    )
    assert recruiting
    assert eligible_in_sql() == recruiting | not_stated
    assert paused.pk not in eligible_in_sql() and closed.pk not in eligible_in_sql()
