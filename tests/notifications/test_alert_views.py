"""Subscribing from the search page and the trial page, and the Atom feed of a search."""

import xml.etree.ElementTree as ET

import pytest

from config import ratelimit
from notifications.models import OutgoingEmail, Subscription
from notifications.views import SUBSCRIBE_LIMITS
from trials.models import Trial

pytestmark = pytest.mark.django_db
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture(autouse=True)
def fresh_limits():
    for limit in SUBSCRIBE_LIMITS:
        ratelimit.reset(limit, "127.0.0.1")
        for email in ("alice@example.org", "ALICE@example.org"):
            ratelimit.reset(limit, email.lower())


def test_the_search_page_offers_to_notify_about_trials_like_these(client):
    html = client.get(
        "/trials/", {"q": "head and neck cancer", "near": "Strasbourg"}
    ).content.decode()
    assert "Notify me about new trials like these" in html
    assert "/alerts/subscribe/?q=head+and+neck+cancer&amp;near=Strasbourg" in html


def test_the_subscribe_page_describes_the_search_and_saves_it(client):
    page = client.get("/alerts/subscribe/", {"q": "head and neck cancer", "near": "Strasbourg"})
    html = page.content.decode()
    assert "head and neck cancer" in html and "Strasbourg, France" in html
    response = client.post(
        "/alerts/subscribe/",
        {
            "search": "q=head+and+neck+cancer&near=Strasbourg",
            "email": "Alice@Example.org",
            "frequency": "weekly",
            "language": "it",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/alerts/check-your-email/"
    subscription = Subscription.objects.get()
    assert subscription.subscriber.email == "alice@example.org"
    assert subscription.subscriber.language == "it"
    assert subscription.frequency == "weekly"
    assert subscription.place_label == "Strasbourg, France"
    assert subscription.radius_km == 100
    assert OutgoingEmail.objects.get().language == "it"


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("not-an-email", "Enter a valid email address."),
        ("someone@mailinator.com", "throw-away inbox"),
        ("", "This field is required."),
    ],
)
def test_a_bad_email_gets_a_clear_error_and_nothing_is_saved(client, email, message):
    response = client.post(
        "/alerts/subscribe/",
        {"search": "q=asthma", "email": email, "frequency": "daily", "language": "en"},
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Subscription.objects.exists() and not OutgoingEmail.objects.exists()


def test_subscribing_is_rate_limited(client):
    data = {
        "search": "q=asthma",
        "email": "alice@example.org",
        "frequency": "daily",
        "language": "en",
    }
    codes = [client.post("/alerts/subscribe/", data).status_code for _ in range(6)]
    assert codes[:5] == [302] * 5
    assert codes[5] == 429
    assert Subscription.objects.count() == 1  # and the repeats did not duplicate


def test_the_trial_page_offers_updates_about_this_study(client):
    html = client.get("/trials/NCT07635641/").content.decode()
    assert "Get updates about this study" in html
    assert "new studies for head and neck cancer are added" in html
    response = client.post(
        "/trials/NCT07635641/watch/",
        {"email": "alice@example.org", "frequency": "immediate", "language": "fr"},
    )
    assert response.status_code == 302
    subscription = Subscription.objects.get()
    assert subscription.kind == "trial"
    assert subscription.trial == Trial.objects.get(nct_id="NCT07635641")


def test_the_feed_lists_matching_trials_newest_changes_first(client):
    Trial.objects.filter(nct_id="NCT05738187").update(last_changed_at="2030-01-01T00:00:00Z")
    response = client.get("/trials/feed/", {"q": "head and neck cancer", "near": "Strasbourg"})
    assert response["Content-Type"].startswith("application/atom+xml")
    feed = ET.fromstring(response.content)
    entries = feed.findall(f"{ATOM}entry")
    assert entries
    first = entries[0]
    assert "Local Cryotherapy" in first.find(f"{ATOM}title").text
    assert first.find(f"{ATOM}link").get("href").endswith("/trials/NCT05738187/")
    updated = [e.find(f"{ATOM}updated").text for e in entries]
    assert updated == sorted(updated, reverse=True)
    assert "head and neck cancer" in feed.find(f"{ATOM}title").text


def test_the_feed_survives_bad_parameters(client):
    response = client.get("/trials/feed/", {"q": "\x00" * 10, "status": "NOPE", "page": "-3"})
    assert response.status_code == 200
