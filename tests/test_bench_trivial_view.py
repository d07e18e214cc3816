"""/bench/trivial: the pages benchmark's yardstick, served only under the benchmark's URLs."""

import pytest

pytestmark = pytest.mark.django_db


def test_the_portal_does_not_serve_it(client):
    assert client.get("/bench/trivial").status_code == 404


def test_the_benchmark_urls_serve_it_and_the_portal(client, settings):
    settings.ROOT_URLCONF = "bench.urls"
    response = client.get("/bench/trivial")
    assert response.status_code == 200
    assert response.content == b"ok"
    assert client.get("/healthz").status_code in (200, 503)
