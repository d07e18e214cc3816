"""Why a result matched: the query's words marked in titles, conditions and snippets, computed
from the understood query (so the same with any engine)."""

import pytest

from trials.query import highlight, snippet, understand

# Understanding reads the names the trials give their treatments (trials.other_names).
pytestmark = pytest.mark.django_db


def marks(html: str) -> list[str]:
    return [part.split("</mark>")[0] for part in html.split("<mark>")[1:]]


def test_it_marks_a_synonym_as_a_phrase_never_its_loose_words():
    understood = understand("head and neck cancer")
    html = highlight("Oral drug for breast cancer in head and neck carcinoma", understood)
    assert marks(html) == ["head and neck carcinoma"]


def test_it_marks_the_registry_terms_of_french_and_italian_words():
    title = "Pembrolizumab in Breast Neoplasms and Gastric Cancers"
    assert marks(highlight(title, understand("cancer du sein", "fr"))) == ["Breast Neoplasms"]
    assert marks(highlight(title, understand("tumore allo stomaco", "it"))) == ["Gastric Cancers"]


def test_a_phrase_is_not_marked_across_a_list_or_a_sentence():
    html = highlight("Head and Neck, Carcinoma. Head and neck carcinoma", understand("hnscc"))
    assert marks(html) == []
    understood = understand('"head and neck carcinoma"')
    html = highlight("Head and Neck, Carcinoma. Head and neck carcinoma", understood)
    assert marks(html) == ["Head and neck carcinoma"]


def test_it_marks_words_as_the_engines_stem_them():
    html = highlight("Tumours of the skin; a tumour", understand("tumor"))
    assert marks(html) == ["Tumours", "tumour"]


def test_it_marks_a_trademarked_name_written_with_or_without_its_sign():
    assert marks(highlight("The PicoWay® laser", understand("picoway"))) == ["PicoWay"]
    assert marks(highlight("The PicoWay laser", understand("PicoWay™"))) == ["PicoWay"]


def test_it_marks_a_phrase_across_the_stopwords_engines_skip():
    html = highlight("Head & Neck Squamous Cell Carcinoma", understand('"head and neck"'))
    assert marks(html) == ["Head &amp; Neck"]


def test_excluded_words_are_not_marked():
    html = highlight("Oral cancer treated with an oral drug", understand("cancer -oral"))
    assert marks(html) == ["cancer"]


def test_the_trial_named_by_its_nct_id_is_marked():
    assert marks(highlight("Study NCT05738187", understand("nct 0573 8187"))) == ["NCT05738187"]


def test_everything_else_is_escaped():
    html = highlight('<script>alert("cancer")</script> & cancer', understand("cancer"))
    assert "<script" not in html and "&lt;script&gt;" in html
    assert html.count("<mark>") == 2 and "&amp; <mark>cancer</mark>" in html


def test_no_query_means_no_marks():
    assert highlight("a < b", None) == "a &lt; b"
    assert highlight("cancer", understand("")) == "cancer"


def test_a_snippet_is_the_window_around_the_matched_words():
    text = " ".join(f"w{i}" for i in range(100)) + " oral cancer " + " ".join(["x"] * 100)
    html = snippet(text, understand("mouth cancer"))
    assert html.startswith("… ") and html.endswith(" …")
    assert marks(html) == ["oral cancer"]
    assert "w0 " not in html and len(html.split()) <= 45


@pytest.mark.parametrize("text", ["", "   ", "no match here at all"])
def test_a_snippet_without_matches_is_the_start_of_the_text(text):
    assert snippet(text, understand("melanoma")) == text.strip()
