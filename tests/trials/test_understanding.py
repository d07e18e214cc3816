"""Query understanding: patients' words in English, French and Italian → registry terms."""

import pytest

from trials.query import CONCEPT_FIELDS, nct_ids_in, understand
from trials.search import SearchParams, search_trials
from trials.vocabulary import display_name

# Understanding reads the names the trials give their treatments (trials.other_names).
pytestmark = pytest.mark.django_db


def phrases(understood):
    return [{" ".join(p.words) for p in c.phrases} for c in understood.clauses]


@pytest.mark.parametrize(
    ("text", "lang", "term"),
    [
        ("cancer du sein", "fr", "breast neoplasms"),
        ("cancer de l'estomac", "fr", "stomach cancer"),
        ("tumore al seno", "it", "breast neoplasms"),
        ("tumore dello stomaco", "it", "stomach cancer"),
        ("tumore della testa e del collo", "it", "head and neck neoplasms"),
        ("carcinome pulmonaire", "fr", "lung cancer"),
        ("métastases osseuses", "fr", "bone metastases"),
        ("pressione alta", "it", "hypertension"),
        ("throat cancer", "en", "head and neck cancer"),
        ("Keytruda", "en", "pembrolizumab"),
    ],
)
def test_it_maps_patients_words_to_registry_terms(text, lang, term):
    understood = understand(text, lang)
    assert len(understood.clauses) == 1
    assert term in phrases(understood)[0]
    assert understood.clauses[0].fields == CONCEPT_FIELDS  # never found in eligibility alone


def test_it_reads_elisions_and_drops_trial_words():
    assert phrases(understand("studio cancro dell'utero", "it")) == phrases(
        understand("cancro utero", "it")
    )
    assert not understand("essai clinique", "fr").clauses or understand("essai", "fr").is_empty


def test_a_mixed_query_keeps_both_languages():
    understood = understand("trastuzumab cancer du sein", "fr")
    found = phrases(understood)
    assert {"trastuzumab", "herceptin"} <= found[0]
    assert "breast cancer" in found[1]


@pytest.mark.parametrize(
    ("text", "lang"),
    [("throat cancer", "en"), ("cancer de la gorge", "fr"), ("tumore alla gola", "it")],
)
def test_throat_cancer_is_the_pharynx_and_larynx_not_the_mouth(text, lang):
    (found,) = phrases(understand(text, lang))
    assert {"pharyngeal cancer", "laryngeal cancer", "hypopharyngeal cancer"} <= found
    assert not {"oral cancer", "mouth cancer", "tongue cancer"} & found


@pytest.mark.parametrize(
    ("text", "lang"),
    [("stomach cancer", "en"), ("cancer de l'estomac", "fr"), ("tumore allo stomaco", "it")],
)
def test_stomach_cancer_is_also_the_registrys_gastric_names(text, lang):
    (found,) = phrases(understand(text, lang))
    assert {"gastric cancer", "gastric adenocarcinoma", "stomach neoplasms"} <= found


@pytest.mark.parametrize(
    ("text", "lang"),
    [("CLL", "en"), ("leucemia linfatica cronica", "it"), ("leucémie lymphoïde chronique", "fr")],
)
def test_cll_is_one_disease_with_sll(text, lang):
    (found,) = phrases(understand(text, lang))
    assert {"chronic lymphocytic leukemia", "small lymphocytic lymphoma"} <= found
    assert "acute lymphoblastic leukemia" not in found


@pytest.mark.parametrize(
    ("text", "lang", "lay"),
    [
        ("cancer du rectum", "fr", "rectal cancer"),
        ("cancer du larynx", "fr", "larynx cancer"),
        ("cancer de l'anus", "fr", "anal cancer"),
        ("tumore dell'utero", "it", "uterine cancer"),
    ],
)
def test_a_mesh_heading_found_in_french_or_italian_keeps_its_english_lay_names(text, lang, lay):
    assert lay in set().union(*phrases(understand(text, lang)))


def test_a_modifier_only_ranks():
    severe = understand("asthme sévère", "fr").clauses
    assert [c.optional for c in severe] == [False, True]
    assert not understand("sévère", "fr").clauses[0].optional  # alone it is what is asked


@pytest.mark.parametrize(
    "text", ["NCT06129864", "nct06129864", "NCT 0612 9864", "essai NCT06129864", "06129864"]
)
def test_it_reads_nct_ids_however_written(text):
    assert nct_ids_in(text) == ["NCT06129864"]


def test_display_name_gives_the_lay_name_of_a_registry_term():
    assert display_name("Breast Neoplasms", "fr") == "cancer du sein"
    assert display_name("Head and Neck Neoplasms", "it") == "tumore della testa e del collo"
    assert display_name("Breast Neoplasms", "en") is None
    assert display_name("Unheard Of Syndrome", "fr") is None


@pytest.mark.django_db
def test_a_french_patient_finds_breast_cancer_trials():
    result = search_trials(SearchParams(q="cancer du sein", statuses=(), lang="fr"))
    english = search_trials(SearchParams(q="breast cancer", statuses=()))
    assert result.count == english.count > 50


@pytest.mark.django_db
def test_an_oral_drug_in_a_breast_cancer_trial_is_not_head_and_neck_cancer():
    result = search_trials(SearchParams(q="head and neck cancer", statuses=()), page_size=100)
    for hit in result.hits:
        trial = hit.trial
        text = " ".join(
            [
                trial.brief_title,
                *trial.conditions,
                *trial.condition_meshes,
                *trial.condition_ancestors,
            ]
        )
        assert any(w in text.lower() for w in ("head", "hnscc", "oral", "mouth", "laryn")), text


@pytest.mark.django_db
def test_a_trial_found_by_its_id_comes_first():
    result = search_trials(SearchParams(q="nct 06129864 breast cancer", statuses=()))
    assert result.hits[0].trial.nct_id == "NCT06129864"


@pytest.mark.django_db
def test_a_misspelling_shows_results_for_a_close_phrase_that_finds_trials():
    result = search_trials(SearchParams(q="hed and nek cancr", statuses=()))
    assert result.corrected_to and "neck" in result.corrected_to.lower()
    assert result.count > 5
    exact = search_trials(SearchParams(q="hed and nek cancr", statuses=(), exact=True))
    assert exact.count == 0 and exact.corrected_to is None


@pytest.mark.django_db
def test_trademark_signs_are_normalised_on_both_sides():
    result = search_trials(SearchParams(q="PicoWay™", statuses=()))
    assert [h.trial.nct_id for h in result.hits] == ["NCT02891239"]


@pytest.mark.django_db
def test_sponsors_and_secondary_ids_are_searchable():
    assert search_trials(SearchParams(q="Syneron", statuses=())).count >= 4
    found = search_trials(SearchParams(q="2014-005181-30", statuses=()))
    assert [h.trial.nct_id for h in found.hits] == ["NCT02513394"]
