"""/bench/trivial: the pages benchmark's yardstick, absent unless BENCH_TRIVIAL_VIEW."""

import pytest

pytestmark = pytest.mark.django_db


def test_it_is_404_by_default(client):
    assert client.get("/bench/trivial").status_code == 404


def test_it_answers_ok_when_the_benchmark_turns_it_on(client, settings):
    settings.BENCH_TRIVIAL_VIEW = True
    response = client.get("/bench/trivial")
    assert response.status_code == 200
    assert response.content == b"ok"
