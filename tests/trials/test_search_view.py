"""The search page: / and /trials/."""

import pytest

pytestmark = pytest.mark.django_db


def test_the_home_page_is_the_search(client):
    response = client.get("/")
    assert response.status_code == 200
    assert b'role="search"' in response.content
    assert client.get("/trials/").status_code == 200


def test_it_shows_results_with_nearest_site_and_distance(client):
    response = client.get("/trials/", {"q": "proton therapy", "near": "Milan"})
    html = response.content.decode()
    assert "<mark>Proton therapy</mark> offers new hope" in html
    assert "Rozzano" in html and "10 km" in html
    assert "/trials/NCT07635641/?near=Milan" in html


def test_each_result_shows_why_it_matched(client):
    from trials.query import STOPWORDS, stem, understand, words

    def key(text_words):
        return tuple(stem(w) for w in text_words if w not in STOPWORDS)

    q = "cancer de la tête et du cou"
    response = client.get("/trials/", {"q": q, "status": "any"}, HTTP_ACCEPT_LANGUAGE="fr")
    html = response.content.decode()
    # The registry's English terms the French words were understood as (head and neck cancer
    # and its narrower terms) in titles, conditions and snippets: whole phrases (overlapping
    # ones as one mark), never a loose word of one ("oral" of an oral drug).
    (clause,) = understand(q, "fr").clauses
    phrases = {key(p.words) for p in clause.phrases}
    for card in html.split('class="trial-card')[1:6]:
        marked = [part.split("</mark>")[0] for part in card.split("<mark>")[1:]]
        assert marked, card
        for mark in marked:
            marked = key(words(mark))
            assert any(marked[i : i + len(p)] == p for p in phrases for i in range(len(marked))), (
                mark
            )


def test_every_state_is_a_shareable_url(client):
    response = client.get(
        "/trials/",
        {
            "q": "cancer",
            "phase": "PHASE3",
            "country": "IT",
            "age": "54",
            "near": "Milan",
            "page": "2",
        },
    )
    html = response.content.decode()
    assert 'value="PHASE3" id="f-phase-PHASE3" checked' in html
    assert 'id="f-country-IT" checked' in html
    assert 'name="age" id="id_age" value="54"' in html
    assert 'value="Milan"' in html


def test_htmx_gets_only_the_results_region_and_the_live_count(client):
    response = client.get("/trials/", {"q": "cancer"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="search-region"') or 'id="search-region"' in html[:400]
    assert "<html" not in html
    assert 'hx-swap-oob="true"' in html and "trials found" in html


def test_the_back_button_gets_the_whole_page(client):
    response = client.get(
        "/trials/", {"q": "cancer"}, HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true"
    )
    assert "<html" in response.content.decode()
    assert "HX-Request" in response["Vary"]


def test_no_results_explains_why_and_offers_to_widen(client):
    response = client.get("/trials/", {"q": "proton therapy", "near": "Strasbourg", "radius": "10"})
    html = response.content.decode()
    assert "No trial matches this search" in html
    assert "Include trials that are no longer recruiting" in html
    assert "Search within 25 km" in html


def test_a_typo_shows_results_for_the_close_term_with_a_way_back(client):
    html = client.get("/trials/", {"q": "lymphona"}).content.decode()
    assert "Showing results for <strong>Lymphoma</strong>" in html
    assert "exact=1" in html and "lymphona" in html
    exact = client.get("/trials/", {"q": "lymphona", "exact": "1"}).content.decode()
    assert "Did you mean" in exact and "q=lymphoma" in exact


def test_an_nct_id_goes_straight_to_the_trial(client):
    response = client.get("/trials/", {"q": "nct 0612 9864"})
    assert response.status_code == 302 and response["Location"].endswith("NCT06129864/")


def test_an_unknown_place_says_so_and_suggests(client):
    html = client.get("/trials/", {"q": "cancer", "near": "Strasbourgh"}).content.decode()
    assert "We do not know the place" in html
    assert "Did you mean Strasbourg?" in html


@pytest.mark.parametrize(
    "params",
    [
        {"q": "x" * 5000},
        {"q": "lung\x00cancer\x1b[31m"},
        {"status": "PARTYING", "phase": "PHASE9", "sex": "ROBOT", "age": "-1"},
        {"page": "-1"},
        {"page": "99999"},
        {"page": "abc"},
        {"radius": "999999999999999999999"},
        {"near": "\x00" * 300},
        {"country": "'; DROP TABLE trials_trial; --"},
    ],
)
def test_bad_input_never_causes_an_error(client, params):
    response = client.get("/trials/", params)
    assert response.status_code == 200


def test_unknown_filter_values_are_mentioned(client):
    html = client.get("/trials/", {"status": "PARTYING"}).content.decode()
    assert "were not understood" in html


def test_the_search_page_uses_a_bounded_number_of_queries(client, django_assert_max_num_queries):
    # 16, plus the plan settings of the two queries that read every match (one statement and,
    # inside the test's transaction, a savepoint and its release each).
    with django_assert_max_num_queries(22):
        response = client.get(
            "/trials/", {"q": "cancer", "near": "Milan", "phase": "PHASE3", "age": "50"}
        )
    assert response.status_code == 200


def test_it_answers_in_the_visitors_language(client):
    html = client.get("/trials/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert '<html lang="fr">' in html
    assert "Trouver un essai clinique" in html
    html = client.get("/trials/", HTTP_ACCEPT_LANGUAGE="it").content.decode()
    assert "Trova uno studio clinico" in html


def test_the_language_switcher_works_without_javascript(client):
    response = client.post("/i18n/setlang/", {"language": "it", "next": "/learn/"})
    assert response.status_code == 302 and response["Location"] == "/it/learn/"
    assert '<html lang="it">' in client.get("/it/learn/").content.decode()
    # The cookie remembers the choice for addresses without a language.
    assert '<html lang="it">' in client.get("/learn/").content.decode()


@pytest.mark.parametrize(
    "path", ["/trials/", "/api/v1/trials", "/trials/feed/"], ids=["page", "api", "feed"]
)
def test_every_list_of_results_reads_its_trials_in_one_query(
    path, client, django_assert_max_num_queries
):
    # A field a list shows but the search leaves unread would cost one query per result: 20,
    # 50 or more. The bound is the page's own (see above).
    with django_assert_max_num_queries(22):
        response = client.get(path, {"q": "cancer", "status": "any"})
    assert response.status_code == 200
    assert b"NCT" in response.content
