"""Brand, generic and code names of treatments, learned from the trials' own records.

A registrant lists a drug under one name and, in `otherNames`, its others: "Pembrolizumab"
with "KEYTRUDA®" and "MK-3475". Another trial may list only one of them. So that a patient who
types the brand finds the trials that list the generic, and the other way round, each listed
name is linked to the intervention's name, and a query naming one is understood as all of its
group (trials.query.understand). Names are compared by `words()` on both sides, so ™ ® © and
punctuation never matter ("Keytruda" = "KEYTRUDA®").

The records are written by hand and are not always right ("Adagrasib", other name
"Pembrolizumab", for a combination arm), so a link is kept only when it looks like a name of
the same product:
- drugs, biologicals, devices and the like only (not behavioural or procedure names);
- never a generic treatment word ("chemotherapy", "placebo", "saline", "laser"...);
- never a combination ("X and Y", "X + Y", "X/Y") or a dose ("150 mg" is dropped from a name);
- never two different interventions' own names ("Adagrasib" and "Pembrolizumab" are both
  trials' intervention names: two drugs, not two names of one);
- never a name given to several different interventions ("ABVD", "EACODD-14": a regimen, not
  a name of any one drug).
"""

import json
import re
from collections import defaultdict

from django.db import connection
from django.utils import timezone

from trials.query import STOPWORDS, words

# The intervention types whose names are products (ClinicalTrials.gov InterventionType).
PRODUCT_TYPES = ("DRUG", "BIOLOGICAL", "DEVICE", "COMBINATION_PRODUCT", "GENETIC", "RADIATION")
# Words that make a name a kind of treatment rather than the name of one product.
_GENERIC = """chemotherapy chemo placebo saline sham standard care treatment therapy laser device
system arm control usual investigator choice regimen combination vehicle"""
GENERIC_WORDS = frozenset(_GENERIC.split())
_ITEM_SPLIT_RE = re.compile(r"[,;()\[\]]")
_COMBINATION_RE = re.compile(r"\s(?:and|with|plus|or)\s|[+/&]", re.IGNORECASE)
_DOSE_RE = re.compile(
    r"\s+\d[\d.,]*\s*(?:mg|mcg|µg|g|ml|mg/ml|mg/kg|%|iu|units?)\b.*$", re.IGNORECASE
)
_memo: dict = {"key": None, "table": {}, "longest": 0}


def _items(text: str) -> list[tuple[str, ...]]:
    """The names written in one field ("Tagrisso, AZD9291", "Herceptin (trastuzumab)"), as
    words; empty when the field names a combination or a kind of treatment."""
    if _COMBINATION_RE.search(text or ""):
        return []
    found = []
    for part in _ITEM_SPLIT_RE.split(text or ""):
        key = tuple(words(_DOSE_RE.sub("", part.strip())))
        if not key or len(key) > 5 or GENERIC_WORDS & set(key):
            continue
        if len(key) == 1 and len(key[0]) < 3:
            continue  # "RRV" stays; "5" or "ai" would match anything
        found.append(key)
    return found


def build(rows) -> dict[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    """(intervention name, its other names) rows → each name's group: the intervention's
    name first, then its other names (the name looked up excluded)."""
    mains: set[tuple[str, ...]] = set()
    links: list[tuple[tuple[str, ...], tuple[str, ...], bool]] = []
    for name, others in rows:
        named = _items(name)
        if not named:
            continue
        main = named[0]
        mains.add(main)
        # "Herceptin (trastuzumab)": names written inside the intervention's own name are
        # trusted; other names are checked below.
        links += [(main, other, True) for other in named[1:] if other != main]
        for other in (item for text in others or () for item in _items(text)):
            if other != main:
                links.append((main, other, False))
    kept = [(main, other) for main, other, trusted in links if trusted or other not in mains]
    given_to: dict[tuple[str, ...], set] = defaultdict(set)  # other name → interventions
    for main, other in kept:
        given_to[other].add(main)
    groups: dict[tuple[str, ...], dict] = defaultdict(dict)
    for main, other in kept:
        if len(given_to[other]) == 1:  # else a regimen's name ("ABVD"), not a drug's
            groups[main][other] = None
    table: dict[tuple[str, ...], dict] = defaultdict(dict)
    for main, others in groups.items():
        members = [main, *others]
        for member in members:
            # Looked up by its content words, as understand() reads a query ("of" dropped).
            key = tuple(w for w in member if w not in STOPWORDS) or member
            for name in members:
                if name != member:
                    table[key][name] = None
    return {name: tuple(group) for name, group in table.items()}


Row = tuple[str, tuple[str, ...]]  # an intervention's name and its other names, as registered


def known_rows(trial_ids: list[int] | None = None) -> set[Row]:
    """The distinct (name, other names) of the product interventions of these trials, or of
    every trial."""
    where = "AND t.id = ANY(%s)" if trial_ids is not None else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT DISTINCT i->>'name', i->'other_names'
                  FROM trials_trial t, jsonb_array_elements(t.interventions) i
                 WHERE i->>'type' = ANY(%s)
                   AND jsonb_typeof(i->'other_names') = 'array'
                   AND jsonb_array_length(i->'other_names') > 0 {where}""",  # noqa: S608
            [list(PRODUCT_TYPES), *([trial_ids] if trial_ids is not None else [])],
        )
        # Django reads jsonb as text (its JSONField decodes it).
        return {(name, tuple(json.loads(others))) for name, others in cursor.fetchall()}


def groups_of(rows: set[Row]) -> list:
    """build(rows) as JSON stores it: [[name words, [other names as words, ...]], ...]."""
    table = build(rows)
    return [[list(name), [list(other) for other in group]] for name, group in table.items()]


def refresh(trial_ids: list[int] | None = None) -> None:
    """Learn the names from every trial (a bulk load, the daily refresh), or add what these
    changed trials name to what is known (every other import: reading every trial's
    interventions grows with the registry). A name no trial uses any more is forgotten by
    the next full refresh. Never a search's work."""
    from trials.models import LearnedNames

    rows = known_rows(trial_ids)
    if trial_ids is not None:
        current = LearnedNames.objects.filter(pk=1).values_list("rows", flat=True).first()
        if current is not None:
            known = {(name, tuple(others)) for name, others in current}
            if rows <= known:
                return  # nothing new: the table stands
            rows |= known
    LearnedNames.objects.update_or_create(
        pk=1,
        defaults={
            "built_at": timezone.now(),
            "rows": [[name, list(others)] for name, others in sorted(rows)],
            "groups": groups_of(rows),
        },
    )


def table() -> dict[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    """Each known name (as words) → the other names of the same product, as the last import
    learned them. Each process keeps the table until the importer stores a new one: asking
    which one is current is one primary-key read per search."""
    from trials.models import LearnedNames

    built_at = LearnedNames.objects.filter(pk=1).values_list("built_at", flat=True).first()
    if _memo["key"] != built_at:
        row = LearnedNames.objects.filter(pk=1).values_list("groups", flat=True).first()
        learned = {tuple(name): tuple(tuple(other) for other in group) for name, group in row or ()}
        longest = max((len(name) for name in learned), default=0)
        _memo.update(key=built_at, table=learned, longest=longest)
    return _memo["table"]


def longest() -> int:
    """The most words a known name has (how far the understanding looks ahead), as of the last
    table() in this process."""
    return _memo["longest"]
