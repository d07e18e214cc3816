"""Reusable filters on trials and sites. The search itself lives in trials.search."""

from django.db import models

OPEN = ("RECRUITING", "NOT_YET_RECRUITING")
# Coordinator statuses that override the registry's "recruiting" (trials.models.CoordinatorStatus).
STOPPED_BY_SITE = ("paused", "closed")


class TrialQuerySet(models.QuerySet):
    def open(self):
        """Trials a patient can still join (recruiting or about to)."""
        return self.filter(overall_status__in=OPEN)


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
