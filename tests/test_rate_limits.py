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
