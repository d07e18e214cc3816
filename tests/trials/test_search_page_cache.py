"""Full search pages keep their rendered results until the next import (search generation)."""

import re

import pytest

from trials.models import Trial
from trials.search import bump_search_generation

pytestmark = pytest.mark.django_db


def test_it_serves_the_second_visit_from_the_cache(client, django_assert_max_num_queries):
    first = client.get("/trials/", {"q": "head and neck cancer", "status": "any"})
    with django_assert_max_num_queries(1):  # the place lookup at most, no search
        second = client.get("/trials/", {"q": "head and neck cancer", "status": "any"})
    assert "NCT05738187" in second.content.decode()
    assert first.content.decode().count("trial-card") == second.content.decode().count("trial-card")


def test_an_import_shows_at_once(client):
    params = {"q": "cryotherapy", "status": "any"}
    assert "NCT05738187" in client.get("/trials/", params).content.decode()
    Trial.objects.filter(nct_id="NCT05738187").update(plain_title="Freezing before radiotherapy")
    bump_search_generation()  # what every import (and site confirmation) does
    assert "Freezing before radiotherapy" in client.get("/trials/", params).content.decode()


def test_htmx_requests_are_not_cached(client):
    client.get("/trials/", {"q": "cancer"})
    response = client.get("/trials/", {"q": "cancer"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert 'id="search-region"' in response.content.decode()


def test_the_whole_search_page_is_shared_with_each_visitors_own_csrf_token():
    from django.test import Client

    from trials.views import CSRF_STAND_IN

    first, second = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)
    pages = [
        first.get("/trials/", {"q": "cancer"}).content.decode(),
        second.get("/trials/", {"q": "cancer"}).content.decode(),
    ]
    assert all(CSRF_STAND_IN not in page and "csrfmiddlewaretoken" in page for page in pages)
    for client, page in zip((first, second), pages, strict=True):
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        response = client.post("/i18n/setlang/", {"language": "fr", "next": "/trials/",
                                                  "csrfmiddlewaretoken": token})  # fmt: skip
        assert response.status_code == 302
    other = Client().get("/trials/", {"q": "asthma"}).content.decode()
    assert 'value="asthma"' in other and 'value="cancer"' not in other
