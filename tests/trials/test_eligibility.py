"""Splitting registry eligibility texts into inclusion and exclusion lists."""

import json
import re

import pytest

from tests.conftest import DEMO_DATA, SEED_DATA
from trials.eligibility import flatten, split_eligibility, unescape

TEXTS = {
    path.stem: text
    for path in sorted(DEMO_DATA.glob("NCT*.json")) + sorted(SEED_DATA.glob("NCT*.json"))
    if (
        text := json.loads(path.read_text())["protocolSection"]
        .get("eligibilityModule", {})
        .get("eligibilityCriteria")
    )
}
WORD = re.compile(r"\w+")
HEADING_WORDS = {"inclusion", "exclusion", "criteria", "criterion", "criteriar"}
MARKER = re.compile(r"^[ \t]*(?:[*\-+•]|\d{1,3}[.)]|[a-zA-Z][.)])\s+", re.MULTILINE)


def words(text: str, *, strip_markers: bool = True) -> list[str]:
    if strip_markers:
        # List numbers are layout, not content: at line starts, and right after an inline
        # heading ("Inclusion Criteria:1. Men or women").
        text = MARKER.sub("", text)
        text = re.sub(
            r"(?i)((?:inclusion|exclusion)\s+criteri\w*[ \t]*:)[ \t]*(?:\d{1,3}|[a-z])[.)][ \t]+",
            r"\1 ",
            text,
        )
    return sorted(w.lower() for w in WORD.findall(text))


def test_it_splits_the_usual_shape_with_nested_bullets():
    text = (
        "Inclusion Criteria:\n\n* Adults\n* Measurable disease:\n\n  * by CT\n  * or MRI\n\n"
        "Exclusion Criteria:\n\n1. Pregnancy\n2. Prior therapy \\>= 2 lines"
    )
    inclusion, exclusion = split_eligibility(text)
    assert inclusion == [
        {"text": "Adults", "children": []},
        {
            "text": "Measurable disease:",
            "children": [{"text": "by CT", "children": []}, {"text": "or MRI", "children": []}],
        },
    ]
    assert exclusion == [
        {"text": "Pregnancy", "children": [], "marker": "1."},
        {"text": "Prior therapy >= 2 lines", "children": [], "marker": "2."},
    ]


def test_numbered_and_lettered_items_keep_their_markers_and_nesting():
    text = (
        "Inclusion Criteria:\n\n1. Adults\n2. One of:\n\n   a. disease \\& stage \\[II\\]\n"
        "   b) prior therapy\n\nExclusion Criteria:\n\n* Pregnancy"
    )
    inclusion, _ = split_eligibility(text)
    assert [(i["marker"], i["text"]) for i in inclusion] == [("1.", "Adults"), ("2.", "One of:")]
    assert [(c["marker"], c["text"]) for c in inclusion[1]["children"]] == [
        ("a.", "disease & stage [II]"),
        ("b)", "prior therapy"),
    ]


def test_the_seed_trial_has_eleven_inclusion_and_thirteen_exclusion_criteria():
    inclusion, exclusion = split_eligibility(TEXTS["NCT05738187"])
    assert len(inclusion) == 11 and len(exclusion) == 13
    assert inclusion[3]["text"] == "Age > 18 years"
    assert exclusion[-1]["text"] == "Pregnant or breastfeeding women"


@pytest.mark.parametrize(
    "heading",
    [
        "Inclusion criteria:",
        "Inclusion Criteria",
        "Key Inclusion Criteria:",
        "* INCLUSION CRITERIA:",
        "Inclusion Criteriar:",
        "1) Inclusion Criteria",
    ],
)
def test_it_recognises_the_heading_variants_seen_in_real_texts(heading):
    inclusion, exclusion = split_eligibility(f"{heading}\n\n* a\n\nExclusion Criteria:\n\n* b")
    assert flatten(inclusion)[-1] == "a"
    assert flatten(exclusion) == ["b"]


def test_it_keeps_cohort_headings_as_headed_groups():
    text = (
        "Inclusion Criteria (Part 1):\n\n* a\n\nExclusion Criteria:\n\n* b\n\n"
        "Inclusion Criteria (Part 2):\n\n* c"
    )
    inclusion, exclusion = split_eligibility(text)
    assert [i["text"] for i in inclusion] == [
        "Inclusion Criteria (Part 1)",
        "Inclusion Criteria (Part 2)",
    ]
    assert all(i["heading"] for i in inclusion)
    assert flatten(exclusion) == ["b"]


def test_a_one_line_text_is_split_at_its_exclusion_heading():
    inclusion, exclusion = split_eligibility(TEXTS["NCT06131424"])
    assert inclusion and exclusion
    assert "history of other malignancies" in exclusion[0]["text"]


def test_a_shape_it_does_not_recognise_is_not_split():
    assert split_eligibility(TEXTS["NCT00003454"]) == ([], [])  # old NCI PDQ headings
    assert split_eligibility("* just\n* bullets") == ([], [])
    assert split_eligibility("") == ([], [])


@pytest.mark.parametrize("nct_id", sorted(TEXTS))
def test_it_never_drops_text(nct_id):
    text = TEXTS[nct_id]
    inclusion, exclusion = split_eligibility(text)
    if not inclusion and not exclusion:
        return  # shown as written
    got = words("\n".join(flatten(inclusion) + flatten(exclusion)), strip_markers=False)
    expected = words(unescape(text))
    # Only the words of the plain "Inclusion Criteria:" headings may disappear.
    missing = list(expected)
    for word in got:
        missing.remove(word)
    assert set(missing) <= HEADING_WORDS, (nct_id, sorted(set(missing) - HEADING_WORDS))
