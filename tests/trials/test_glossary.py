"""The glossary: 150+ terms explained in en/fr/it, marked in the registry's text in place."""

import pytest

from trials.plain.glossary import LANGUAGES, mark, terms


def test_it_explains_at_least_150_terms_in_three_languages():
    found = terms()
    assert len(found) >= 150
    for term in found:
        assert term.spellings, term
        for language in LANGUAGES:
            assert term.explanations[language].strip(), (term.name, language)
    spellings = [s.casefold() for t in found for s in t.spellings]
    assert len(spellings) == len(set(spellings)), "a spelling explained twice"


def test_it_marks_the_first_use_of_a_term_with_its_explanation_in_the_page_language():
    html = mark("A randomized study; randomized again. Stage IV.", "it")
    assert html.count("<dfn") == 2  # randomized once, Stage once
    assert '<dfn tabindex="0">randomized</dfn>' in html
    assert '<span class="gloss-def" lang="it"> (le persone sono messe nei gruppi a caso' in html
    assert "vein" not in html and "in vena" not in html  # "IV" is not intravenous


def test_abbreviations_match_only_as_written():
    assert "<dfn" not in mark("My pet cat", "en")
    assert "<dfn" in mark("A PET scan", "en")


def test_it_escapes_the_registry_text():
    assert "&lt;script&gt;" in mark("<script> placebo", "en")


@pytest.mark.django_db
def test_terms_are_explained_in_place_on_the_trial_page(client):
    html = client.get("/trials/NCT05738187/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert '<dfn tabindex="0">Unresectable</dfn><span class="gloss-def" lang="fr">' in html
    assert " (ne peut pas être retiré par une opération)</span>" in html


@pytest.mark.django_db
def test_learn_lists_the_glossary_in_the_page_language(client):
    html = client.get("/learn/", HTTP_ACCEPT_LANGUAGE="it").content.decode()
    section = html[html.index('id="glossary"') :]
    assert section.count("<dt") >= 150
    assert '<dt lang="en">placebo</dt><dd>Una finta cura che sembra vera' in section
