"""Rate limits on public endpoints: 429 with Retry-After, held, then recovered."""

import time

import pytest

from config import ratelimit

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def low_limit(settings):
    settings.SEARCH_RATE_PER_MINUTE = 5
    ratelimit.reset(ratelimit.Limit("search-ip", 5, 60), "127.0.0.1")
    yield
    ratelimit.reset(ratelimit.Limit("search-ip", 5, 60), "127.0.0.1")


@pytest.mark.parametrize(
    "url", ["/trials/?q=cancer", "/api/v1/trials?q=cancer", "/trials/feed/?q=x"]
)
def test_a_burst_of_searches_is_limited_and_recovers(client, url):
    codes = [client.get(url).status_code for _ in range(8)]
    assert codes[:5] == [200] * 5
    assert codes[5:] == [429] * 3
    refused = client.get(url)
    assert int(refused["Retry-After"]) >= 1
    # Another visitor is not affected.
    assert client.get(url, REMOTE_ADDR="10.0.0.7").status_code == 200
    ratelimit.reset(ratelimit.Limit("search-ip", 5, 60), "127.0.0.1")  # the window passes
    assert client.get(url).status_code == 200


def test_the_api_says_it_in_json(client):
    for _ in range(5):
        client.get("/api/v1/trials")
    response = client.get("/api/v1/trials")
    assert response.status_code == 429
    assert response.json()["error"]["parameter"] == "rate"


def test_limits_fail_open_when_redis_is_down(client, settings):
    from config import redis as redis_module

    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    redis_module._client.cache_clear()
    try:
        assert all(client.get("/trials/?q=cancer").status_code == 200 for _ in range(8))
    finally:
        redis_module._client.cache_clear()


def test_the_window_really_expires():
    limit = ratelimit.Limit("test-expiry", 1, 2)
    ratelimit.reset(limit, "x")
    assert ratelimit.hit(limit, "x").allowed
    assert not ratelimit.hit(limit, "x").allowed
    time.sleep(2.2)  # Redis expires the key: no time travel reaches it
    assert ratelimit.hit(limit, "x").allowed


def test_behind_a_proxy_the_forwarded_address_counts(rf, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    request = rf.get("/", HTTP_X_FORWARDED_FOR="203.0.113.9, 198.51.100.1", REMOTE_ADDR="10.0.0.1")
    assert ratelimit.client_ip(request) == "198.51.100.1"
    settings.TRUSTED_PROXY_COUNT = 0
    assert ratelimit.client_ip(request) == "10.0.0.1"


# --- one limit for every path that runs a search -----------------------------------------------


def exhaust_the_search_limit(client):
    codes = [client.get("/api/v1/trials", {"q": "cancer"}).status_code for _ in range(6)]
    assert codes[-1] == 429


def test_the_alert_form_counts_and_is_refused_with_the_other_searches(client):
    for _ in range(5):
        assert client.get("/alerts/subscribe/", {"q": "cancer"}).status_code == 200
    assert client.get("/api/v1/trials", {"q": "cancer"}).status_code == 429  # one limit
    refused = client.get("/alerts/subscribe/", {"q": "melanoma"})
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1


def test_other_trials_on_the_contact_page_wait_for_the_limit_but_the_form_does_not(client, site_a):
    from patients.models import PrescreenQuestion
    from trials.models import Trial

    question = PrescreenQuestion.objects.create(
        trial=Trial.objects.get(nct_id="NCT05738187"), text="Has it come back?"
    )
    exhaust_the_search_limit(client)
    data = {"step": "check", "near": "Strasbourg", f"pre-q{question.pk}": "no", "site": site_a.pk}
    response = client.post("/trials/NCT05738187/contact/?near=Strasbourg", data)
    assert response.status_code == 200  # a patient can still write to the site
    assert "You may not be eligible for this trial" in response.content.decode()
    assert "alternatives" not in response.context  # no search was run


def test_other_trials_on_the_status_page_wait_for_the_limit(client, site_a, alice, bob):
    from patients import services
    from patients.models import InquiryStatus
    from tests.patients.test_inquiry_services import create

    inquiry = create(site_a, alice)
    inquiry.near = "Strasbourg"
    inquiry.save()
    services.inquiry_change_status(inquiry=inquiry, to_status=InquiryStatus.NOT_ELIGIBLE, actor=bob)
    url = f"/inquiries/status/{services.status_token(inquiry)}/"
    assert client.get(url).context["alternatives"] is not None
    exhaust_the_search_limit(client)
    response = client.get(url)
    assert response.status_code == 200
    assert "alternatives" not in response.context
