"""sitemap.xml and its numbered sections, at the site's root (outside the language prefixes:
one sitemap lists every language's address). Included by config/urls.py by name, so that
config imports no app."""

from django.contrib.sitemaps import views as sitemap_views
from django.urls import path

from config.db import replica_reads
from trials.sitemaps import SITEMAPS

urlpatterns = [
    path(
        "sitemap.xml",
        # Reads only, the same for everyone: from the read replica when there is one.
        replica_reads(sitemap_views.index),
        {"sitemaps": SITEMAPS, "sitemap_url_name": "sitemap-section"},
        name="sitemap",
    ),
    path(
        "sitemap-<section>.xml",
        replica_reads(sitemap_views.sitemap),
        {"sitemaps": SITEMAPS},
        name="sitemap-section",
    ),
]
