"""sitemap.xml: every trial page in every language, with hreflang alternates
(django.contrib.sitemaps; served by config/urls.py as an index of numbered pages)."""

from django.conf import settings
from django.contrib.sitemaps import Sitemap

from trials.models import Trial

# A sitemap file holds at most 50,000 addresses, and each trial has one per language.
PER_PAGE = 50_000 // len(settings.LANGUAGES)


class TrialSitemap(Sitemap):
    i18n = True
    alternates = True
    x_default = True
    limit = PER_PAGE
    changefreq = "daily"

    def items(self):
        return Trial.objects.order_by("id").only("nct_id", "last_changed_at")

    def location(self, trial: Trial) -> str:
        return trial.get_absolute_url()

    def lastmod(self, trial: Trial):
        return trial.last_changed_at


SITEMAPS = {"trials": TrialSitemap}
