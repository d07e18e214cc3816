"""The search page's cache holds one copy per search, whatever else the URL carries, in a Redis
database of its own (which may evict), never in the Celery broker's (which must not)."""

import pytest
import redis
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from config import env

pytestmark = pytest.mark.django_db


def cache_redis() -> redis.Redis:
    return redis.Redis.from_url(settings.CACHES["default"]["LOCATION"])


def page_keys(client) -> set[bytes]:
    prefix = settings.CACHES["default"]["KEY_PREFIX"]
    return set(cache_redis().scan_iter(f"{prefix}:*search_html:*", count=1000))


def test_junk_parameters_do_not_make_new_cache_entries(client):
    before = page_keys(client)
    pages = [
        client.get("/trials/", {"q": "cancer", f"junk{i}": "x" * 200, "utm_source": str(i)})
        for i in range(20)
    ]
    assert all(page.status_code == 200 for page in pages)
    assert len(page_keys(client) - before) == 1


def test_a_search_written_differently_shares_the_cached_page(client):
    before = page_keys(client)
    client.get("/trials/", {"q": "  melanoma ", "near": "", "sort": "", "page": "1"})
    client.get("/trials/", {"q": "melanoma"})
    client.get("/trials/", {"sort": "", "q": "melanoma", "tracking": "abc"})
    assert len(page_keys(client) - before) == 1


def test_one_visitors_junk_is_never_shown_to_another(client):
    from django.test import Client

    client.get("/trials/", {"q": "asthma", "marker": "visitor-one-junk-7731"})
    other = Client().get("/trials/", {"q": "asthma"})
    assert "visitor-one-junk-7731" not in other.content.decode()


def test_the_cache_is_not_in_the_brokers_database():
    assert settings.CACHES["default"]["LOCATION"] != settings.CELERY_BROKER_URL
    assert settings.CACHES["default"]["LOCATION"] != settings.REDIS_URL


@pytest.mark.parametrize(
    ("broker", "cache"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/1"),
        ("redis://127.0.0.1:6379", "redis://127.0.0.1:6379/1"),
        ("redis://:secret@redis.internal:6380/4", "redis://:secret@redis.internal:6380/5"),
        ("rediss://cache.example:6379/2?ssl_cert_reqs=required",
         "rediss://cache.example:6379/3?ssl_cert_reqs=required"),
        ("unix:///run/redis.sock?db=2", "unix:///run/redis.sock?db=3"),
    ],
)  # fmt: skip
def test_by_default_the_cache_uses_the_next_database(broker, cache):
    assert env.redis_url_next_db(broker) == cache


def test_there_is_no_database_after_the_last():
    with pytest.raises(ImproperlyConfigured, match="CACHE_REDIS_URL"):
        env.redis_url_next_db("redis://127.0.0.1:6379/15")


def test_compose_gives_the_cache_its_own_capped_evicting_redis():
    import yaml

    from tests.conftest import ROOT

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    cache_url = compose["x-app"]["environment"]["CACHE_REDIS_URL"]
    host = cache_url.split("//", 1)[1].split(":", 1)[0]
    command = " ".join(compose["services"][host]["command"])
    assert "--maxmemory-policy allkeys-lru" in command and "--maxmemory " in command
    broker = " ".join(compose["services"]["redis"]["command"])
    assert "--maxmemory-policy noeviction" in broker
