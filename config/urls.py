from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from config import views
from config.i18n import i18n_patterns

# A lost database connection is a 503 page, not a 500 (config/outage.py).
handler500 = "config.views.server_error"

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("robots.txt", views.robots_txt, name="robots-txt"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("", include("trials.sitemap_urls")),
    path(settings.ADMIN_PATH, admin.site.urls),
    # Patient pages in every language: /fr/…, /it/…, English unprefixed (config/i18n.py).
    *i18n_patterns(
        path("", include("notifications.urls")),
        path("notes/", include("notes.urls")),
        # Under the trial page's path, so that the browser sends that page's notes cookie.
        path("trials/<str:nct_id>/notes/", include("notes.trial_urls")),
        path("", include("patients.urls")),
        path("", include("trials.urls")),
    ),
]
