"""Patients' words → the registry's words, from trials/synonyms.txt (see its header)."""

import functools
import re
from pathlib import Path

from trials.geo import normalise

SYNONYMS_FILE = Path(__file__).with_name("synonyms.txt")


def _phrase_key(text: str) -> str:
    return normalise(text.replace("'", " ")).replace("-", " ")


@functools.cache
def synonym_table() -> dict[str, tuple[str, ...]]:
    """phrase → the other phrases a search for it should also find."""
    equivalents: dict[str, set[str]] = {}
    narrower: list[tuple[str, list[str]]] = []
    for lineno, raw in enumerate(SYNONYMS_FILE.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        kind, _, rest = line.partition(" ")
        if kind == "=":
            group = [_phrase_key(p) for p in rest.split(",") if p.strip()]
            for phrase in group:
                equivalents.setdefault(phrase, set()).update(p for p in group if p != phrase)
        elif kind == ">":
            head, _, listed = rest.partition(":")
            narrower.append(
                (_phrase_key(head), [_phrase_key(t) for t in listed.split(",") if t.strip()])
            )
        else:
            raise ValueError(f"{SYNONYMS_FILE}:{lineno}: lines start with '=' or '>'")
    table = {phrase: set(others) for phrase, others in equivalents.items()}
    for head, terms in narrower:
        # The narrower terms of a head are found from any of its equivalents too.
        for phrase in {head, *equivalents.get(head, ())}:
            table.setdefault(phrase, set()).update(t for t in terms if t != phrase)
    return {phrase: tuple(sorted(others)) for phrase, others in table.items()}


@functools.cache
def equivalent_table() -> dict[str, tuple[str, ...]]:
    """phrase → the phrases of its "=" groups only (what it is another name for)."""
    equivalents: dict[str, set[str]] = {}
    for raw in SYNONYMS_FILE.read_text().splitlines():
        line = raw.strip()
        if line.startswith("= "):
            group = [_phrase_key(p) for p in line[2:].split(",") if p.strip()]
            for phrase in group:
                equivalents.setdefault(phrase, set()).update(p for p in group if p != phrase)
    return {phrase: tuple(sorted(others)) for phrase, others in equivalents.items()}


def expansions(phrase: str) -> tuple[str, ...]:
    """What a search for `phrase` also finds: its synonyms and narrower terms, and the other
    names of those (one step: "throat cancer" → "head and neck cancer" → "head and neck
    neoplasms"), never the broader terms of its narrower terms."""
    key = _phrase_key(phrase)
    direct = synonym_table().get(key, ())
    equivalents = equivalent_table()
    found = dict.fromkeys(direct)
    for other in direct:
        found.update(dict.fromkeys(equivalents.get(other, ())))
    found.pop(key, None)
    return tuple(found)


@functools.cache
def _phrase_re() -> re.Pattern:
    # Longest phrases first so "head and neck cancer" wins over "cancer"; an optional plural.
    phrases = sorted(synonym_table(), key=len, reverse=True)
    alternatives = "|".join(re.escape(p).replace(r"\ ", r"[\s\-]+") for p in phrases)
    return re.compile(rf"(?<!\w)({alternatives})(?:s|es)?(?!\w)", re.IGNORECASE)


def find_phrases(text: str) -> list[tuple[int, int, str]]:
    """(start, end, phrase) of every known phrase in `text` (accents and case folded, search
    syntax kept: quotes and "-word" still mean what they meant)."""
    return [(m.start(), m.end(), _phrase_key(m.group(1))) for m in _phrase_re().finditer(text)]
