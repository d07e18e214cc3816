"""Patients' words in French, Italian and English → the registry's English terms, and back.

The data are files beside this module (their sources: SOURCES.md):
- conditions.tsv: a registry condition or MeSH term, its French names, its Italian names (the
  first name of each is the one shown: `display_name`);
- anatomy.tsv: body parts, the registry's names for their cancers, their French and Italian
  nouns and adjectives (so "tumore al polmone", "carcinome pulmonaire" and "cancer of the lung"
  need no line of their own);
- words.tsv: treatments, people and trial words ("essai", "studio": dropped);
- ../synonyms.txt: English lay words and abbreviations (see its header).

Phrases are compared by their *content words*: `words()` of query.py (accents and case folded,
"l'estomac" → "l estomac"), without articles, prepositions and elided particles. So "cancer de
l'estomac", "cancer estomac" and "cancer de l estomac" are one key, and so are "tumore allo
stomaco" and "tumore dello stomaco".
"""

import csv
import functools
from dataclasses import dataclass
from pathlib import Path

from trials.query import words

HERE = Path(__file__).resolve().parent
LANGUAGES = ("en", "fr", "it")


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words that carry no meaning of their own in a phrase: articles, prepositions (with their
# elided and contracted forms) and conjunctions. Inside a registry phrase they still hold a
# position (engines match "head and neck" with its "and").
FUNCTION_WORDS = {
    "en": _wordset(
        "a an and are as at be but by for from has have in into is it its of on or that "
        "the their then there these they this to was were will with "
    ),
    "fr": _wordset(
        "a au aux avec ce ces d dans de des du en et l la le les leur lui ma mes mon n ne "
        "ou par qu que qui s sa se ses son sur ta te un une vos votre j m t c jusqu "
        "lorsqu puisqu quelqu y chez "
    ),
    "it": _wordset(
        "a ad agli ai al alla alle allo all c coi col con d da dagli dai dal dalla dalle "
        "dallo dall degli dei del della delle dello dell di e ed gli i il in l la le lo "
        "nei negli nel nella nelle nello nell o per su sugli sui sul sulla sulle sullo "
        "sull tra fra un una uno un' mio mia miei mie suo sua "
    ),
}

# Disease words that, before a body part, name that part's cancer ("cancer du sein").
CANCER_HEADS = _wordset(
    "cancer cancers tumor tumors tumour tumours carcinoma carcinomas neoplasm "
    "neoplasms malignancy tumeur tumeurs carcinome carcinomes neoplasme neoplasmes "
    "neoplasie tumore tumori cancro cancri carcinomi neoplasia neoplasie "
)
METASTASIS_HEADS = frozenset({"metastases", "metastasis", "metastase", "metastasi"})


def function_words(lang: str) -> frozenset[str]:
    """The function words dropped from phrases of `lang` (English ones too: mixed queries)."""
    return FUNCTION_WORDS.get(lang, frozenset()) | FUNCTION_WORDS["en"]


def content_key(text: str, lang: str = "en") -> tuple[str, ...]:
    """The words of `text` that carry meaning, in order: the key phrases are compared by."""
    dropped = function_words(lang)
    return tuple(w for w in words(text) if w not in dropped)


def _rows(name: str) -> list[list[str]]:
    with (HERE / name).open(encoding="utf-8", newline="") as f:
        return [
            row
            for row in csv.reader(f, delimiter="\t")
            if row and not row[0].startswith("#") and any(cell.strip() for cell in row)
        ]


def _names(cell: str) -> list[str]:
    return [name.strip() for name in cell.split("|") if name.strip()]


@dataclass(frozen=True)
class Entry:
    """What a patient's phrase means: registry terms (English phrases), how to search them."""

    terms: tuple[str, ...]  # English phrases, the first the main one
    # "condition" (a registry term or a lay name of one), "treatment" (a word that restricts,
    # like "laser"), "modifier" (a word that only ranks, like "severe"), "drop" ("essai")
    kind: str


@functools.cache
def _tables() -> dict:
    phrases: dict[str, dict[tuple[str, ...], list[str]]] = {lang: {} for lang in LANGUAGES}
    display: dict[str, dict[str, str]] = {"fr": {}, "it": {}}
    kinds: dict[tuple[str, tuple[str, ...]], str] = {}

    def add(lang: str, name: str, term: str, kind: str) -> None:
        key = content_key(name, lang)
        if not key:
            return
        targets = phrases[lang].setdefault(key, [])
        if term and term not in targets:
            targets.append(term)
        # A condition's name wins over the same words as a plain word ("rides").
        if kinds.get((lang, key)) != "condition" or kind == "condition":
            kinds[(lang, key)] = kind

    for english, french, italian in _rows("conditions.tsv"):
        english = english.strip()
        add("en", english, english, "condition")
        for lang, cell in (("fr", french), ("it", italian)):
            names = _names(cell)
            if names:
                display[lang].setdefault(english.casefold(), names[0])
            for name in names:
                add(lang, name, english, "condition")
    anatomy: dict[str, dict[tuple[str, ...], tuple[str, tuple[str, ...]]]] = {
        lang: {} for lang in LANGUAGES
    }
    for english, cancers, french, italian in _rows("anatomy.tsv"):
        organ = (english.strip(), tuple(_names(cancers)))
        anatomy["en"][content_key(english)] = organ
        for lang, cell in (("fr", french), ("it", italian)):
            for name in _names(cell):
                anatomy[lang][content_key(name, lang)] = organ
    for english, role, french, italian in _rows("words.tsv"):
        english, kind = english.strip(), role.strip() if english.strip() else "drop"
        for lang, cell in (("fr", french), ("it", italian)):
            for name in _names(cell):
                add(lang, name, english, kind)
        if english:
            add("en", english, english, kind)
    from trials.synonyms import synonym_table

    for phrase in synonym_table():
        # A treatment or modifier of words.tsv keeps its role ("chemotherapy" only ranks).
        kind = kinds.get(("en", content_key(phrase)), "condition")
        add("en", phrase, phrase, kind)
    for english_trial_word in ("trial", "trials", "study", "studies", "clinical trial"):
        add("en", english_trial_word, "", "drop")
    return {"phrases": phrases, "display": display, "kinds": kinds, "anatomy": anatomy}


def lookup(key: tuple[str, ...], lang: str) -> Entry | None:
    """The meaning of a phrase (as its content key) in `lang`, else in English."""
    tables = _tables()
    for language in dict.fromkeys((lang if lang in LANGUAGES else "en", "en")):
        terms = tables["phrases"][language].get(key)
        if terms is not None:
            return Entry(tuple(terms), tables["kinds"][(language, key)])
    return None


def body_part(key: tuple[str, ...], lang: str) -> tuple[str, tuple[str, ...]] | None:
    """(English name, registry names of its cancers) of a body part, else None."""
    anatomy = _tables()["anatomy"]
    for language in dict.fromkeys((lang if lang in LANGUAGES else "en", "en")):
        if key in anatomy[language]:
            return anatomy[language][key]
    return None


@functools.cache
def longest_phrase() -> int:
    tables = _tables()
    keys = [k for table in tables["phrases"].values() for k in table]
    keys += [k for table in tables["anatomy"].values() for k in table]
    return max(len(k) for k in keys)


@functools.cache
def known_words(lang: str) -> frozenset[str]:
    """Every word of the vocabulary of `lang` and of English (for spelling corrections)."""
    tables = _tables()
    found: set[str] = set()
    for language in {lang, "en"} & set(LANGUAGES):
        for key in tables["phrases"][language]:
            found.update(key)
        for key in tables["anatomy"][language]:
            found.update(key)
    return frozenset(found)


@functools.cache
def known_phrases(lang: str) -> dict[str, str]:
    """The vocabulary's names in `lang` and English: content words joined by spaces → the
    name as written ("cancer sein" → "cancer du sein")."""
    found: dict[str, str] = {}
    sources = [("conditions.tsv", {"en": 0, "fr": 1, "it": 2})]
    for name, columns in sources:
        for row in _rows(name):
            for language in dict.fromkeys((lang, "en")):
                if language not in columns:
                    continue
                for written in _names(row[columns[language]]):
                    found.setdefault(" ".join(content_key(written, language)), written)
    from trials.synonyms import synonym_table

    for phrase in synonym_table():
        found.setdefault(" ".join(content_key(phrase)), phrase)
    found.pop("", None)
    return found


def display_name(english_term: str, lang: str) -> str | None:
    """The lay French or Italian name of a registry condition term ("Breast Neoplasms", "fr"
    → "cancer du sein"), or None when the vocabulary has none (or lang is English)."""
    if lang not in ("fr", "it") or not english_term:
        return None
    return _tables()["display"][lang].get(english_term.strip().casefold())
