"""Arbitrary input to the search page, the API and the feeds: never a 500, always an answer."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.conftest import FUZZ, TRIED

pytestmark = pytest.mark.django_db

PARAMS = ["q", "status", "phase", "type", "sex", "healthy", "country", "condition", "age", "near",
          "radius", "radius_km", "sort", "page", "other"]  # fmt: skip
TEXT = st.one_of(
    st.text(max_size=50),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=3000),
    st.sampled_from(
        [
            "RECRUITING",
            "PHASE3",
            "any",
            "-1",
            "99999",
            "1e9",
            "NaN",
            "Milan",
            "45.4,9.1",
            '"',
            "-",
            "or",
            "!!",
            "&|",
            "\x00",
            "é" * 200,
            "1" * 40,
        ]
    ),
)
QUERIES = st.lists(st.tuples(st.sampled_from(PARAMS), TEXT), max_size=8)


def _get(client, path, pairs):
    from urllib.parse import urlencode

    query = urlencode([(k, v.replace("\x00", "")) for k, v in pairs])  # a URL cannot hold NUL
    return client.get(f"{path}?{query}")


@FUZZ
@given(pairs=QUERIES)
def test_the_search_page_never_fails(client, pairs):
    TRIED["search page"] += 1
    response = _get(client, "/trials/", pairs)
    assert response.status_code == 200


@FUZZ
@given(pairs=QUERIES)
def test_the_api_answers_200_or_400(client, pairs):
    TRIED["api list"] += 1
    response = _get(client, "/api/v1/trials", pairs)
    assert response.status_code in (200, 400)
    assert response["Content-Type"] == "application/json"


@FUZZ
@given(pairs=QUERIES)
def test_the_feed_never_fails(client, pairs):
    TRIED["atom feed"] += 1
    assert _get(client, "/trials/feed/", pairs).status_code == 200


@FUZZ
@given(nct=st.text(max_size=40))
def test_any_trial_id_is_200_400_or_404(client, nct):
    from urllib.parse import quote

    TRIED["trial page + api detail"] += 1
    path = quote(nct.replace("\x00", "").replace("/", ""), safe="")
    assert client.get(f"/trials/{path}/").status_code in (200, 404, 301)
    assert client.get(f"/api/v1/trials/{path}").status_code in (200, 400, 404, 301)
