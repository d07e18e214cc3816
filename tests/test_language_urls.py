"""The language in the address (config/i18n.py), the sitemap, robots.txt and the favicon."""

import json
import re

import pytest

pytestmark = pytest.mark.django_db

TRIAL = "/trials/NCT05738187/"


def test_it_serves_each_language_under_its_prefix(client):
    assert '<html lang="fr">' in client.get("/fr" + TRIAL).content.decode()
    assert '<html lang="it">' in client.get("/it/").content.decode()
    # Whatever the browser asks for: a shared /it/ link opens in Italian.
    html = client.get("/it" + TRIAL, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert '<html lang="it">' in html


def test_it_keeps_english_unprefixed_and_negotiates_old_links(client):
    assert '<html lang="en">' in client.get(TRIAL).content.decode()
    # Links from before the prefixes: the cookie or the browser's language, as they used to.
    assert '<html lang="fr">' in client.get(TRIAL, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    client.cookies["django_language"] = "it"
    assert '<html lang="it">' in client.get(TRIAL).content.decode()


def test_it_redirects_en_prefix_to_the_unprefixed_page_and_remembers_english(client):
    client.cookies["django_language"] = "fr"
    response = client.get("/en" + TRIAL + "?near=Milan")
    assert response.status_code == 302
    assert response["Location"] == TRIAL + "?near=Milan"
    assert response.cookies["django_language"].value == "en"
    assert '<html lang="en">' in client.get(response["Location"]).content.decode()


def test_it_links_every_language_version_with_hreflang(client):
    html = client.get("/fr/?q=cancer").content.decode()
    links = dict(re.findall(r'<link rel="alternate" hreflang="([\w-]+)" href="([^"]+)"', html))
    assert links == {
        "en": "http://testserver/?q=cancer",
        "x-default": "http://testserver/?q=cancer",
        "fr": "http://testserver/fr/?q=cancer",
        "it": "http://testserver/it/?q=cancer",
    }


def test_it_switches_language_keeping_the_page_and_its_query(client):
    for start, language, expected in [
        ("/fr" + TRIAL + "?near=Milan", "it", "/it" + TRIAL + "?near=Milan"),
        ("/it" + TRIAL + "?near=Milan", "en", TRIAL + "?near=Milan"),
        (TRIAL + "?near=Milan", "fr", "/fr" + TRIAL + "?near=Milan"),
    ]:
        response = client.post("/i18n/setlang/", {"language": language, "next": start})
        assert response["Location"] == expected
        assert response.cookies["django_language"].value == language


def test_it_links_within_the_page_in_its_language(client):
    html = client.get("/fr/").content.decode()
    assert 'href="/fr/trials/NCT05738187/' in html


def test_it_keeps_the_admin_and_api_unprefixed(client):
    assert client.get("/api/v1/trials").status_code == 200
    assert client.get("/fr/does-not-exist/").status_code == 404


def test_it_lists_every_trial_page_in_every_language_in_the_sitemap(client):
    index = client.get("/sitemap.xml")
    assert index.status_code == 200
    found = r"<loc>http://testserver(/sitemap-trials\.xml[^<]*)</loc>"
    page = re.search(found, index.content.decode())
    xml = client.get(page.group(1)).content.decode()
    for prefix in ("", "/fr", "/it"):
        assert f"<loc>http://testserver{prefix}{TRIAL}</loc>" in xml
    assert 'hreflang="x-default"' in xml


def test_it_points_crawlers_to_the_sitemap_and_away_from_secret_links(client):
    text = client.get("/robots.txt").content.decode()
    assert "Sitemap: http://testserver/sitemap.xml" in text
    assert "Disallow: /inquiries/" in text
    assert "Disallow: /fr/inquiries/" in text


def test_it_answers_favicon_ico(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"].endswith(".ico")


def test_it_describes_a_trial_as_schema_org_medical_trial(client):
    html = client.get("/fr" + TRIAL).content.decode()
    raw = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S).group(1)
    data = json.loads(raw)
    assert data["@type"] == "MedicalTrial"
    assert data["identifier"] == "NCT05738187"
    assert data["url"] == "http://testserver/fr" + TRIAL
    assert data["inLanguage"] == "fr"
    assert data["healthCondition"][0]["@type"] == "MedicalCondition"
