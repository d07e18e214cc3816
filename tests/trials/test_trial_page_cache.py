"""The trial page is cached (but for the notes panel) until anything it shows changes."""

import copy
import datetime

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from patients.sites import site_confirm
from trials.importer import Importer
from trials.models import Site, Trial

pytestmark = pytest.mark.django_db

URL = "/trials/NCT05738187/"


def _html(client, url=URL, **extra) -> str:
    response = client.get(url, **extra)
    assert response.status_code == 200
    return response.content.decode()


def test_it_serves_the_second_visit_from_the_cache(client, django_assert_max_num_queries):
    first = _html(client)
    with django_assert_max_num_queries(3):  # the trial, the sites' fingerprint, the session
        second = _html(client)
    assert "University Hospital, Strasbourg" in second
    strip = "csrfmiddlewaretoken"
    assert [line for line in first.splitlines() if strip not in line] == [
        line for line in second.splitlines() if strip not in line
    ]


def test_an_import_shows_at_once(client):
    _html(client)
    trial = Trial.objects.get(nct_id="NCT05738187")
    record = copy.deepcopy(trial.versions.order_by("-number").first().record)
    record["protocolSection"]["descriptionModule"]["briefSummary"] = "A brand new overview."
    stats = Importer().run([("changed", record)])
    assert stats.updated == 1
    html = _html(client)
    assert "A brand new overview." in html
    assert "What changed and when" in html


def test_a_staff_edit_of_the_portal_texts_shows_at_once(client):
    _html(client)
    trial = Trial.objects.get(nct_id="NCT05738187")
    trial.plain_summary = "Freezing the tumour before radiotherapy."
    trial.save(update_fields=["plain_summary"])
    assert "Freezing the tumour before radiotherapy." in _html(client)


def test_a_coordinator_closing_a_site_shows_at_once(client):
    _html(client)
    site = Site.objects.filter(trial__nct_id="NCT05738187", facility__contains="Strasbourg").first()
    admin = User.objects.create_superuser("root-cache", "root@example.org", "x")
    site_confirm(site=site, user=admin, status="closed")
    assert "this site has closed recruitment" in _html(client)


def test_a_confirmation_turning_stale_expires_the_page(client, time_machine):
    site = Site.objects.filter(trial__nct_id="NCT05738187", facility__contains="Strasbourg").first()
    Site.objects.filter(pk=site.pk).update(
        coordinator_status="recruiting",
        status_confirmed_at=timezone.now() - datetime.timedelta(days=89, hours=23),
    )
    assert "Recruitment confirmed by the site on" in _html(client)
    time_machine.move_to(timezone.now() + datetime.timedelta(hours=2))
    assert "Recruitment confirmed by the site on" not in _html(client)


def test_each_language_has_its_own_page(client):
    english = _html(client)
    french = _html(client, HTTP_ACCEPT_LANGUAGE="fr")
    assert ">Eligibility</h2>" in english
    assert ">Critères de participation</h2>" in french and ">Eligibility</h2>" not in french


def test_a_page_near_a_place_is_not_cached(client):
    _html(client)
    html = _html(client, URL + "?near=Strasbourg")
    assert "in Strasbourg" in html  # the site's distance, as precise as the registry is


def _token(html: str) -> str:
    import re

    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def test_a_whole_cached_page_carries_each_visitors_own_working_csrf_token():
    from django.test import Client

    from trials.views import CSRF_STAND_IN

    first, second = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)
    _html(first)  # fills the cache
    pages = [_html(first), _html(second)]
    assert all(CSRF_STAND_IN not in page for page in pages)
    tokens = [_token(page) for page in pages]
    assert tokens[0] != tokens[1]
    for client, token in zip((first, second), tokens, strict=True):
        response = client.post(
            f"{URL}notes/", {"text": "Ask about travel", "csrfmiddlewaretoken": token}
        )
        assert response.status_code == 302, "the token served from the cached page must work"
    # And only with its own visitor's cookie.
    stranger = Client(enforce_csrf_checks=True)
    _html(stranger)
    response = stranger.post(f"{URL}notes/", {"text": "x", "csrfmiddlewaretoken": "x" * 64})
    assert response.status_code == 403


def test_a_visitor_with_notes_or_flash_messages_gets_their_own_page(client):
    from django.contrib.messages import constants
    from django.contrib.messages.storage.base import Message
    from django.contrib.messages.storage.cookie import CookieStorage
    from django.test import Client, RequestFactory

    _html(Client())  # the shared page is cached
    client.post(f"{URL}notes/", {"text": "Ask whether the travel is paid"})
    assert "Ask whether the travel is paid" in _html(client)
    assert "Ask whether the travel is paid" not in _html(Client())

    flashed = Client()
    storage = CookieStorage(RequestFactory().get("/"))
    flashed.cookies["messages"] = storage._encode([Message(constants.INFO, "Alert confirmed")])
    assert "Alert confirmed" in _html(flashed)
