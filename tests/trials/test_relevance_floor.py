"""A floor under search relevance: a fast subset of the judged set (make relevance runs it all)."""

import pytest

from bench.relevance import evaluate, load_judged

# Every query class in every language, a few each: ~50 queries, a few seconds.
PER_LANGUAGE_CLASS = 3
# Marked as database tests so that they run with them, on the demo trials, before the
# transactional tests (live servers, workers) empty the database.
pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def figures(django_db_setup, django_db_blocker):
    queries, seen = [], {}
    for query in load_judged():
        key = (query.language, query.kind)
        if seen.get(key, 0) < PER_LANGUAGE_CLASS:
            seen[key] = seen.get(key, 0) + 1
            queries.append(query)
    with django_db_blocker.unblock():
        return evaluate(queries, depth=20)


def test_it_finds_what_patients_mean_in_each_language(figures):
    for language, floor in (("en", 0.85), ("fr", 0.80), ("it", 0.80)):
        assert figures["language"][language]["ndcg@10"] >= floor, (language, figures["language"])


def test_it_goes_to_the_trial_named_by_its_id_acronym_or_treatment(figures):
    for kind in ("nct", "acronym", "intervention"):
        assert figures["class"][kind]["recall@20"] >= 0.95, (kind, figures["class"][kind])


def test_no_query_class_falls_below_the_floor(figures):
    for kind, values in figures["class"].items():
        assert values["ndcg@10"] >= 0.6, (kind, values)
