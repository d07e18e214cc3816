"""trials.readability: one standard formula per language, on hand-checked examples."""

import pytest

from trials import readability
from trials.readability import grade, sentence_count, syllables, words


@pytest.mark.parametrize(
    ("word", "count"),
    [
        ("the", 1),
        ("make", 1),  # silent e
        ("takes", 1),
        ("used", 1),
        ("uses", 2),  # es after a hissing sound
        ("tested", 2),  # ed after t
        ("needed", 2),
        ("people", 2),  # consonant + le
        ("tables", 2),
        ("medicine", 3),
        ("cancer", 2),
        ("study", 2),
        ("year", 1),  # y as a consonant
        ("hospital", 3),
        ("placebo", 3),
        ("participants", 4),
        ("administration", 5),
    ],
)
def test_english_syllables(word, count):
    assert syllables(word, "en") == count


@pytest.mark.parametrize(
    ("word", "count"),
    [
        ("les", 1),
        ("étude", 2),  # mute final e
        ("études", 2),
        ("que", 1),
        ("personne", 2),
        ("médecine", 3),
        ("médicament", 4),
        ("essai", 2),
        ("traitement", 3),
        ("hôpital", 3),
        ("nouveau", 2),
        ("lessai", 2),  # "l'essai", apostrophe removed by words()
    ],
)
def test_french_syllables(word, count):
    assert syllables(word, "fr") == count


def test_words_join_elisions_and_skip_numbers():
    assert words("L'essai dure 12 semaines, aujourd\u2019hui.") == [
        "lessai",
        "dure",
        "semaines",
        "aujourdhui",
    ]


def test_sentences_end_at_full_stops_and_line_breaks_not_decimals():
    assert sentence_count("Take 2.5 mg a day. Then stop! Is it over?") == 3
    assert sentence_count("A title without a full stop\n- a list item\n- another") == 3
    assert sentence_count("") == 0


def test_english_is_flesch_kincaid():
    # 9 words, 2 sentences, 10 syllables: 0.39 * 4.5 + 11.8 * 10/9 - 15.59 = -0.72 → 1 (floor)
    assert grade("The cat sat on the mat. It was happy.", "en") == 1.0
    # 14 words, 2 sentences, 20 syllables: 0.39 * 7 + 11.8 * 20/14 - 15.59 = 4.0
    text = "Doctors test a new medicine for people with cancer. The study lasts one year."
    assert grade(text, "en") == 4.0
    # 13 words, 1 sentence, 37 syllables: 5.07 + 33.58 - 15.59 = 23.1 → 18 (ceiling)
    jargon = (
        "Participants will receive intravenous administration of the investigational "
        "monoclonal antibody every three weeks."
    )
    assert grade(jargon, "en") == 18.0


def test_french_is_kandel_and_moles_on_fleschs_grade_table():
    # 6 words, 2 sentences, 7 syllables: 207 - 1.015 * 3 - 73.6 * 7/6 = 118.1, beyond "very
    # easy" (95 → grade 5, 85 → 6): 5 - 2.31 = 2.7
    assert grade("Le chat dort. Il est content.", "fr") == 2.7
    # 15 words, 2 sentences, 24 syllables: 207 - 7.61 - 117.76 = 81.6, between 85 (grade 6)
    # and 75 (grade 7): 6.3
    text = (
        "Cette étude teste un nouveau médicament. "
        "Les patients viennent à l'hôpital une fois par mois."
    )
    assert grade(text, "fr") == 6.3


def test_italian_is_gulpease_on_the_school_thresholds():
    # 15 words, 65 letters, 2 sentences: 89 + (600 - 650) / 15 = 85.7, between 100 (grade 2)
    # and 80 (end of elementary school, grade 5): 2 + 14.33 * 3/20 = 4.15
    text = "Lo studio prova un nuovo farmaco. I pazienti vanno in ospedale una volta al mese."
    assert grade(text, "it") == pytest.approx(4.15, abs=0.051)
    # Gulpease 60 is the end of middle school (grade 8), 40 of high school (13).
    assert readability._interpolate(60, readability.GULPEASE_GRADES) == 8
    assert readability._interpolate(40, readability.GULPEASE_GRADES) == 13
    assert readability._interpolate(50, readability.GULPEASE_GRADES) == 10.5


def test_a_registry_text_reads_harder_than_the_plain_one_in_every_language():
    plain = {
        "en": "This study tests a cold treatment on cancer that came back. It is a small study.",
        "fr": "Cette étude teste un froid intense sur le cancer revenu. C'est une petite étude.",
        "it": "Lo studio prova il freddo sul tumore tornato. È uno studio piccolo.",
    }
    registry = {
        "en": "Evaluation of the efficacy and safety of local cryotherapy treatment of recurrent "
        "head and neck squamous cell carcinomas in previously irradiated areas.",
        "fr": "Évaluation de l'efficacité et de la tolérance de la cryothérapie locale des "
        "carcinomes épidermoïdes récidivants de la tête et du cou en territoire irradié.",
        "it": "Valutazione dell'efficacia e della sicurezza della crioterapia locale dei "
        "carcinomi squamocellulari recidivanti della testa e del collo in aree irradiate.",
    }
    for language in ("en", "fr", "it"):
        assert grade(plain[language], language) <= 8 < grade(registry[language], language)


def test_no_words_no_grade():
    assert grade("", "en") is None
    assert grade("12 — 34", "fr") is None


def test_an_unknown_language_is_read_as_english():
    assert grade("The cat sat on the mat.", "de") == grade("The cat sat on the mat.", "en")
