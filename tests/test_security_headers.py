"""Security headers on each kind of page, and `check --deploy` with production settings."""

import json
import os
import secrets
import subprocess
import sys

import pytest

from tests.conftest import ROOT, start_django

pytestmark = pytest.mark.django_db

PAGES = [
    "/",
    "/trials/?q=cancer",
    "/trials/NCT05738187/",
    "/learn/",
    "/api/v1/trials?q=cancer",
    "/api/v1/openapi.json",
    "/trials/feed/?q=cancer",
    "/alerts/subscribe/?q=cancer",
    "/healthz",
    "/admin/login/",
    "/trials/NCT00000000/",  # a 404
]


@pytest.mark.parametrize("url", PAGES)
def test_every_page_sends_the_security_headers(client, url):
    response = client.get(url)
    csp = response["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["script-src"] == "'self'"  # no inline script, no eval
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert "unsafe-inline" not in directives["style-src"] or url.startswith("/admin/")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert "geolocation=(self)" in response["Permissions-Policy"]
    assert "camera=()" in response["Permissions-Policy"]


def test_hsts_is_sent_over_https(client, settings):
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    response = client.get("/", secure=True)
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")
    assert "Strict-Transport-Security" not in client.get("/")  # never over plain HTTP


def test_pages_reached_by_signed_links_name_themselves_to_no_other_site(client):
    from notifications import alerts
    from notifications.models import Subscriber

    subscriber = Subscriber.objects.create(email="alice@example.org")
    response = client.get(f"/alerts/manage/{alerts.manage_token(subscriber)}/")
    # Not "no-referrer": with it, Chromium posts the page's forms with "Origin: null", which
    # the CSRF check refuses (issue 13; tests/browser/test_emailed_links.py).
    assert response["Referrer-Policy"] == "same-origin"
    assert "noindex" in response["X-Robots-Tag"]
    assert "no-store" in response["Cache-Control"]


def test_cookies_are_httponly_and_samesite(client):
    response = client.get("/alerts/subscribe/?q=cancer")  # renders a form: sets the CSRF cookie
    cookie = response.cookies["csrftoken"]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"


def test_manage_check_deploy_is_clean_with_production_settings():
    environ = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DOTENV_FILE": "/nonexistent",
        "DEBUG": "False",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "SITE_URL": "https://trials.example.org",
        "ALLOWED_HOSTS": "trials.example.org",
        "BEHIND_HTTPS_PROXY": "True",
    }
    # The browser tests' conftest allows sync ORM calls under Playwright's event loop for the
    # whole session; a deployment never sets it.
    environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def _settings_with(**environ) -> dict:
    result = start_django(
        "import json; from django.conf import settings as s; "
        "print(json.dumps([s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, "
        "s.SECURE_HSTS_PRELOAD]))",
        **{
            "DEBUG": "False",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "trials.example.org",
            **environ,
        },
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_hsts_preload_is_opt_in_because_it_is_hard_to_undo():
    https = {"SITE_URL": "https://trials.example.org"}
    assert _settings_with(**https) == [31536000, True, False]
    assert _settings_with(**https, SECURE_HSTS_PRELOAD="True") == [31536000, True, True]
