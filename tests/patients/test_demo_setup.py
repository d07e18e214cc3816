"""`manage.py demo_setup`: the demo coordinators handle the seed trials' sites, and another."""

import pytest
from django.core.management import call_command

from patients.models import SiteCoordinator

pytestmark = pytest.mark.django_db


def test_it_links_the_demo_coordinators_to_their_sites(capsys):
    call_command("demo_setup")
    call_command("demo_setup")  # safe to run again
    first = SiteCoordinator.objects.filter(user__username="coordinator")
    assert sorted(first.values_list("site__city", flat=True)) == ["Rozzano", "Strasbourg"]
    second = SiteCoordinator.objects.filter(user__username="coordinator2")
    assert second.count() == 1
    assert second.get().site.trial.nct_id not in ("NCT05738187", "NCT07635641")
    for link in (*first, *second):
        assert link.user.is_staff and not link.user.is_superuser
        assert link.user.groups.filter(name="Coordinators").exists()
    assert "coordinator coordinates: University Hospital" in capsys.readouterr().out
