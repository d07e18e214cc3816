from django.conf import settings
from django.contrib import admin
from django.contrib.sitemaps import views as sitemap_views
from django.urls import include, path

from config import views
from config.i18n import i18n_patterns
from trials.sitemaps import SITEMAPS

# A lost database connection is a 503 page, not a 500 (config/outage.py).
handler500 = "config.views.server_error"

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("bench/trivial", views.bench_trivial, name="bench-trivial"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("robots.txt", views.robots_txt, name="robots-txt"),
    path("favicon.ico", views.favicon, name="favicon"),
    path(
        "sitemap.xml",
        sitemap_views.index,
        {"sitemaps": SITEMAPS, "sitemap_url_name": "sitemap-section"},
        name="sitemap",
    ),
    path(
        "sitemap-<section>.xml",
        sitemap_views.sitemap,
        {"sitemaps": SITEMAPS},
        name="sitemap-section",
    ),
    path(settings.ADMIN_PATH, admin.site.urls),
    # Patient pages in every language: /fr/…, /it/…, English unprefixed (config/i18n.py).
    *i18n_patterns(
        # Before trials.urls: /trials/feed/ must not be read as a trial id.
        path("", include("notifications.urls")),
        path("", include("patients.urls")),
        path("", include("trials.urls")),
    ),
]
