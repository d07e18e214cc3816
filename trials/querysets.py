"""Reusable filters on trials and sites. The search itself lives in trials.search."""

from django.db import models
from django.http import Http404

from trials.ctgov import NCT_RE

OPEN = ("RECRUITING", "NOT_YET_RECRUITING")
# Coordinator statuses that override the registry's "recruiting" (trials.models.CoordinatorStatus).
STOPPED_BY_SITE = ("paused", "closed")


class NotAnNctNumber(Http404):
    """The id is not an NCT number at all (the API answers 400 rather than 404)."""


class TrialQuerySet(models.QuerySet):
    def open(self):
        """Trials a patient can still join (recruiting or about to)."""
        return self.filter(overall_status__in=OPEN)

    def get_by_nct_or_404(self, nct_id: str):
        """The trial of an NCT id as a URL carries it (any case); Http404 when it is not an NCT
        number (NotAnNctNumber) or not in TrialFinder. Every page under /trials/<nct_id>/ and
        the API find their trial so."""
        nct_id = nct_id.upper()
        if not NCT_RE.match(nct_id):
            raise NotAnNctNumber("not an NCT number")
        trial = self.filter(nct_id=nct_id).first()
        if trial is None:
            raise Http404("no such trial")
        return trial


class SiteQuerySet(models.QuerySet):
    def current(self):
        """Sites still listed in the registry record."""
        return self.filter(removed_at__isnull=True)

    def recruiting(self):
        """Current sites whose own status says they take patients, and whose coordinator has
        not paused or closed them."""
        return (
            self.current().filter(status__in=OPEN).exclude(coordinator_status__in=STOPPED_BY_SITE)
        )
