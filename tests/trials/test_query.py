"""The query-understanding contract (trials/query.py) that every search engine compiles."""

import pytest

from trials.query import nct_ids_in, understand, words

# Understanding reads the names the trials give their treatments (trials.other_names).
pytestmark = pytest.mark.django_db


def test_it_normalises_text_the_same_way_for_queries_and_indexing():
    assert words("PicoWay™ eVOLVE-HNSCC Étude") == ["picoway", "evolve", "hnscc", "etude"]


def test_it_reads_nct_ids_in_any_case_and_spacing():
    assert nct_ids_in("nct 6129864 or NCT06129864") == ["NCT06129864", "NCT06129864"]


def test_it_keeps_known_phrases_whole_with_their_synonyms():
    understood = understand("head and neck cancer")
    assert len(understood.clauses) == 1
    alternatives = {str(p) for p in understood.clauses[0].phrases}
    assert {"head and neck cancer", "hnscc"} <= alternatives


def test_it_reads_quotes_exclusions_and_or():
    understood = understand('"breast cancer" -men lung or liver')
    shown = [([str(p) for p in c.phrases], c.negated) for c in understood.clauses]
    # A quoted known phrase keeps its synonyms, never its loose words: "breast cancer" first.
    assert shown[0][0][0] == "breast cancer"
    assert "breast neoplasms" in shown[0][0]
    assert shown[1:] == [(["men"], True), (["lung", "liver"], False)]


def test_a_query_of_stopwords_is_empty():
    assert understand("the and of").is_empty
