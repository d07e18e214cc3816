"""What the patient asked for, understood: the layer between the words typed and any engine.

    understood = understand("hed and nek cancr", lang="en")
    engine.search(understood, filters, ...)

A search engine never sees the raw text: it is handed an `Understood` and compiles it to its
own query language (tsquery, Tantivy, ...). So query understanding (patient words → registry
terms, identifiers, corrections, French and Italian) and the engine underneath change
independently, and the page, the API, the feed and the alerts share one meaning of a query.

The contract:
- `words(text)` is THE normalisation of text into searchable words, used on both sides: when a
  trial's text is indexed and when a query is understood (accents folded, case folded, ™ ® ©
  and punctuation dropped, hyphens and apostrophes split words). Engines may stem after it.
- An `Understood` is a conjunction of `Clause`s. Every clause that is not negated must match; no
  negated clause may. A clause matches when any of its `Phrase`s matches in any of its fields.
- A `Phrase` matches when its words occur in that order, at most `slop` positions apart in all
  (0 = adjacent). A one-word phrase is a word. `boost` weighs it in ranking only.
- `nct_ids` are trials the patient named: they match (and rank first) whatever else the query
  says, in every engine.
"""

import re
import unicodedata
from dataclasses import dataclass, field

# The text fields of a trial an engine indexes, from the strongest evidence that a trial is
# about something to the weakest. `Clause.fields` names a subset of these.
FIELDS = (
    "ids",  # NCT id, secondary ids, acronym
    "title",  # brief and official titles
    "conditions",  # conditions, their MeSH terms and ancestors, keywords
    "interventions",  # intervention names, other names, MeSH terms
    "sponsor",  # lead sponsor and collaborators
    "summary",  # brief summary, plain-language summary
    "description",  # detailed description, outcomes, arms
    "eligibility",  # eligibility criteria
)
CORE_FIELDS = ("ids", "title", "conditions", "interventions", "sponsor")

_SYMBOLS_RE = re.compile(r"[\u2122\u00ae\u00a9\u2120]")  # ™ ® © ℠: never part of a name
_SPLIT_RE = re.compile(r"[^\w]+|_", re.UNICODE)
NCT_RE = re.compile(r"\bnct\s*0*(\d{1,8})\b", re.IGNORECASE)


def fold(text: str) -> str:
    """Lower case without accents or trademark signs; everything else kept."""
    # The signs go before NFKC, which would spell ™ out as "TM" ("PicoWay™" → "picowaytm").
    text = unicodedata.normalize("NFKC", _SYMBOLS_RE.sub("", text or ""))
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def words(text: str) -> list[str]:
    """Searchable words of `text`: the one normalisation for indexing and for queries."""
    return [w for w in _SPLIT_RE.split(fold(text)) if w]


@dataclass(frozen=True)
class Phrase:
    words: tuple[str, ...]  # as `words()` gives them: folded, not stemmed
    slop: int = 0  # extra positions allowed between the words, in order
    boost: float = 1.0  # ranking weight relative to the patient's own words

    def __str__(self) -> str:
        return " ".join(self.words)


@dataclass(frozen=True)
class Clause:
    phrases: tuple[Phrase, ...]  # alternatives: the patient's words and their synonyms
    fields: tuple[str, ...] = FIELDS  # where they may match (ranking still weighs fields)
    negated: bool = False


@dataclass(frozen=True)
class Understood:
    text: str  # what the patient typed
    language: str = "en"
    clauses: tuple[Clause, ...] = ()
    nct_ids: tuple[str, ...] = ()  # "NCT01234567"
    # When the words as typed found nothing and a close phrase does, the engine-independent
    # layer rewrites the query and says so here ("Showing results for ...").
    corrected_from: str | None = None
    notes: tuple[str, ...] = field(default=(), compare=False)  # for debugging and the harness

    @property
    def is_empty(self) -> bool:
        """Nothing searchable is left (only stopwords or symbols)."""
        return not self.nct_ids and not any(not c.negated for c in self.clauses)


def nct_ids_in(text: str) -> list[str]:
    """NCT ids written in any case, with or without spaces or leading zeros."""
    return [f"NCT{int(m.group(1)):08d}" for m in NCT_RE.finditer(text or "")]


# --- a first understanding: the behaviour the portal had, expressed in the contract ---------------
# (the search-quality work replaces this with patient vocabularies, corrections and languages)

# Words that never make a clause on their own (PostgreSQL's English stopwords, the ones patients
# type); inside a phrase they still count as positions.
_STOPWORDS = "a an and are as at be but by for from has have in into is it its of on or that the"
STOPWORDS = frozenset(
    (_STOPWORDS + " their then there these they this to was were will with").split()
)
_TOKEN_RE = re.compile(r'"([^"]*)"?|(-?)([^\s"]+)')


def _plain_clauses(chunk: str, negated: bool) -> list[Clause]:
    """Clauses for unquoted words: known phrases (with their synonyms), then single words."""
    from trials.synonyms import find_phrases, synonym_table

    table = synonym_table()
    clauses, last = [], 0
    for start, end, key in find_phrases(chunk):
        clauses += _word_clauses(chunk[last:start], negated)
        alternatives = [Phrase(tuple(words(key)))]
        alternatives += [Phrase(tuple(words(o)), boost=0.8) for o in table.get(key, ())]
        clauses.append(
            Clause(tuple(dict.fromkeys(p for p in alternatives if p.words)), negated=negated)
        )
        last = end
    return clauses + _word_clauses(chunk[last:], negated)


def _word_clauses(chunk: str, negated: bool) -> list[Clause]:
    return [Clause((Phrase((w,)),), negated=negated) for w in words(chunk) if w not in STOPWORDS]


def understand(text: str, lang: str = "en") -> Understood:
    """The patient's words → clauses: quoted phrases, `-word` exclusions, `or` between two
    words, and known phrases (trials/synonyms.txt) with their synonyms as whole phrases."""
    text = (text or "").strip()
    ids = nct_ids_in(text)
    rest = fold(NCT_RE.sub(" ", text))
    clauses: list[Clause] = []
    run: list[str] = []  # consecutive unquoted words, where known phrases are looked for
    pending_or = False

    def flush() -> None:
        clauses.extend(_plain_clauses(" ".join(run), negated=False))
        run.clear()

    for match in _TOKEN_RE.finditer(rest):
        quoted, minus, bare = match.group(1), match.group(2), match.group(3)
        if quoted is None and bare == "or" and (run or clauses):
            flush()
            pending_or = True
            continue
        if quoted is None and not minus and not pending_or:
            run.append(bare)
            continue
        flush()
        if quoted is not None:
            new = [Clause((Phrase(tuple(words(quoted))),))] if words(quoted) else []
        else:
            new = _plain_clauses(bare, negated=bool(minus))
        if pending_or and new and clauses and not clauses[-1].negated and not new[0].negated:
            previous = clauses.pop()
            new[0] = Clause(previous.phrases + new[0].phrases, previous.fields)
        clauses.extend(new)
        pending_or = False
    flush()
    return Understood(text=text, language=lang, clauses=tuple(clauses), nct_ids=tuple(ids))
