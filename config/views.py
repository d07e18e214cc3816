"""Service-level views: the health check, the page a refused form (CSRF) shows, and the
handler500 that tells a database outage from a bug."""

import sys

from django.apps import apps
from django.conf import settings
from django.db import DatabaseError, connections
from django.http import HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.cache import cache_control, never_cache
from django.views.defaults import server_error as django_server_error
from redis.exceptions import RedisError

from config import outage
from config.db import replica_configured, replica_health
from config.privacy import private
from config.redis import get_redis


@never_cache
def healthz(request):
    """200 when PostgreSQL and Redis answer; 503 naming what failed otherwise.

    `?worker=1` also pings the Celery workers (one second at most).
    """
    checks: dict[str, str] = {}
    healthy = True

    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except DatabaseError as exc:
        checks["database"] = f"unreachable ({type(exc).__name__})"
        healthy = False

    try:
        get_redis().ping()
        checks["redis"] = "ok"
    except (RedisError, OSError) as exc:
        checks["redis"] = f"unreachable ({type(exc).__name__})"
        healthy = False

    if request.GET.get("worker") == "1":
        if checks["redis"] != "ok":
            checks["worker"] = "unknown (redis unreachable)"
        else:
            from config.celery import app

            replies = app.control.ping(timeout=1.0)
            checks["worker"] = f"ok ({len(replies)} answered)" if replies else "no worker answered"
            healthy = healthy and bool(replies)

    if replica_configured():
        # Reported, never failed: a replica down or behind is skipped and reads go to the
        # primary (config/db.py). Checked now, not from this process's last check.
        checks["replica"] = replica_health(force=True)[1]

    if checks["database"] == "ok":
        # What the apps report about themselves (trials: the registry sync): an app's
        # AppConfig.health_checks(), so that config imports none of them.
        for app_config in apps.get_app_configs():
            app_checks = getattr(app_config, "health_checks", None)
            for name, (text, passes) in (app_checks() if app_checks else {}).items():
                checks[name] = text
                healthy = healthy and passes

    return JsonResponse(checks, status=200 if healthy else 503)


def csrf_failure(request, reason=""):
    """CSRF_FAILURE_VIEW: a form Django refused (no CSRF cookie, an expired token, a post from
    another site). The patient reads what happened and what to do, in their language; Django's
    reason is for developers and stays out of the page.

    Private: the page links back to the form's address, which may hold a secret link's token.
    """
    ctx = {"csrf_failed": True, "retry_url": request.path}
    return private(render(request, "403.html", ctx, status=403))


def server_error(request):
    """handler500: a lost database connection (a restart, a failover) answers 503 with
    Retry-After, in the visitor's language; anything else is the 500 page. Writing views that
    can post again what was typed are wrapped in config.outage.survives_db_outage instead."""
    exc = sys.exc_info()[1]
    if isinstance(exc, DatabaseError) and outage.connection_lost(exc):
        return outage.unavailable(request, kept=False)
    return django_server_error(request)


# Addresses crawlers have no business in: secret links (never indexed anyway, config/privacy.py),
# forms, and the printable copies of trial pages. Each in every language's prefix.
_ROBOTS_DISALLOW = ("inquiries/", "alerts/", "sites/", "notes/", "trials/*/contact/",
                    "trials/*/print/", "trials/*/watch/", "trials/*/notes/")  # fmt: skip


@cache_control(max_age=86400, public=True)
def robots_txt(request):
    prefixes = [""] + [f"{code}/" for code, _name in settings.LANGUAGES if code != "en"]
    lines = ["User-agent: *"]
    lines += [f"Disallow: /{prefix}{path}" for prefix in prefixes for path in _ROBOTS_DISALLOW]
    lines += ["Allow: /", "", f"Sitemap: {settings.SITE_URL}{reverse('sitemap')}", ""]
    return HttpResponse("\n".join(lines), content_type="text/plain; charset=utf-8")


@cache_control(max_age=604800, public=True)
def favicon(request):
    """Browsers ask /favicon.ico on pages without an icon link (the admin's, a PDF, an error)."""
    return HttpResponsePermanentRedirect(static("img/favicon.ico"))
