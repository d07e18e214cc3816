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
- An `Understood` is a conjunction of `Clause`s. Every clause that is neither negated nor
  optional must match; no negated clause may; an optional clause only ranks. A clause matches
  when any of its `Phrase`s matches in any of its fields (`FIELDS`: a condition the patient
  named is looked for in CORE_FIELDS only, so that an exclusion list or a description that
  mentions it does not make a trial "about" it).
- A `Phrase` matches when its words occur in that order, at most `slop` positions apart in all
  (0 = adjacent). A one-word phrase is a word. `boost` weighs it in ranking only.
- `nct_ids` are trials the patient named: they match (and rank first) whatever else the query
  says, in every engine.
"""

import functools
import re
import threading
import unicodedata
from dataclasses import dataclass, field

import snowballstemmer
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

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
# "NCT01234567", "nct 0123 4567", "NCT-1234567": the letters, then up to 8 digits that may be
# split by spaces; or 8 digits alone starting with 0 (an NCT id without its letters).
NCT_RE = re.compile(r"\bnct[\s\-_:#]*((?:\d ?){0,7}\d)(?!\d)|\b(0\d{7})\b", re.IGNORECASE)


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
    # An optional clause never decides what matches: a trial matching it only ranks higher
    # ("severe" in "asthme severe"). An engine that cannot rank by it may ignore it, never
    # require it.
    optional: bool = False
    source: str = ""  # the patient's words this clause understands (for display, highlighting)


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
    """NCT ids written in any case, with or without spaces, letters or leading zeros."""
    found = []
    for m in NCT_RE.finditer(text or ""):
        digits = (m.group(1) or m.group(2)).replace(" ", "")
        if int(digits):
            found.append(f"NCT{int(digits):08d}")
    return found


# --- understanding -------------------------------------------------------------------------

# Where a condition, a body part or a treatment the patient named is looked for; their own other
# words are looked for everywhere but in the eligibility criteria (which list what a trial is
# *not* about as often as what it is about); negated words everywhere.
CONCEPT_FIELDS = CORE_FIELDS
TEXT_FIELDS = tuple(f for f in FIELDS if f != "eligibility")
LANGUAGES = ("en", "fr", "it")
SYNONYM_BOOST = 0.8  # a registry synonym ranks a little below the patient's own words

# Kept for callers of the first version: PostgreSQL's English stopwords, the ones patients type.
_STOPWORDS = "a an and are as at be but by for from has have in into is it its of on or that the"
STOPWORDS = frozenset(
    (_STOPWORDS + " their then there these they this to was were will with").split()
)
_TOKEN_RE = re.compile(r'"([^"]*)"?|(-?)([^\s"]+)')


def _phrases(terms, own: tuple[str, ...] = ()) -> tuple[Phrase, ...]:
    """The registry terms and what they also mean, as phrases; the patient's own words first."""
    from trials.synonyms import expansions

    found: dict[tuple[str, ...], float] = {}
    if own:
        found[own] = 1.0
    for term in terms:
        found.setdefault(tuple(words(term)), 1.0)
        for other in expansions(term):
            found.setdefault(tuple(words(other)), SYNONYM_BOOST)
    return tuple(Phrase(w, boost=b) for w, b in found.items() if w)


def _match_at(content: list[str], i: int, lang: str, learned: dict, longest: int):
    """The longest known phrase starting at content word i: (length, kind, terms) or None.
    `learned`: the treatments' names the trials give (trials.other_names); `longest`: the
    most words a known phrase has."""
    from trials import vocabulary

    for length in range(min(longest, len(content) - i), 0, -1):
        key = tuple(content[i : i + length])
        entry = vocabulary.lookup(key, lang)
        if entry is not None and entry.kind == "condition":
            return length, "condition", entry.terms
        if length >= 2 and key[0] in vocabulary.CANCER_HEADS | vocabulary.METASTASIS_HEADS:
            # "cancer du sein", "tumore al polmone", "métastases osseuses", "cancer of the lung"
            organ = vocabulary.body_part(key[1:], lang)
            if organ is not None:
                if key[0] in vocabulary.METASTASIS_HEADS:
                    name = organ[0]
                    return length, "condition", (f"{name} metastases", f"{name} metastasis")
                return length, "condition", organ[1] or (f"{organ[0]} cancer",)
        if length >= 2 and key[-1] in vocabulary.CANCER_HEADS:
            organ = vocabulary.body_part(key[:-1], "en")  # "tongue cancer", "lung tumour"
            if organ is not None and organ[1]:
                return length, "condition", organ[1]
        if entry is not None:
            return length, entry.kind, entry.terms
        if key in learned:  # a treatment's name: its brand, generic and code names too
            return length, "product", tuple(" ".join(name) for name in learned[key])
        organ = vocabulary.body_part(key, lang)
        if organ is not None and (length > 1 or len(key[0]) >= 4):
            return length, "anatomy", (organ[0],)
    return None


def _concept_clauses(chunk: str, lang: str, negated: bool = False) -> list[Clause]:
    """Unquoted words → clauses: known phrases in the patient's language or in English
    (conditions with their registry names and synonyms, body parts, treatments), then the
    remaining words one by one."""
    from trials import other_names, vocabulary

    dropped = vocabulary.function_words(lang)
    content: list[str] = []
    token_of: list[int] = []  # which whitespace-separated token each content word came from
    for number, token in enumerate(chunk.split()):
        for word in words(token):
            if word not in dropped:
                content.append(word)
                token_of.append(number)
    if not content:
        return []
    learned = other_names.table()  # read once per run of words (it may ask the cache)
    longest = max(vocabulary.longest_phrase() + 1, other_names.longest())
    clauses: list[Clause] = []
    i = 0
    while i < len(content):
        found = _match_at(content, i, lang, learned, longest)
        if found is None:
            # An unknown word; the unknown words of one token ("PACIFIC-8", "MK-2870") are one
            # phrase, so that an acronym or a code is found as written.
            end = i + 1
            while (
                end < len(content)
                and token_of[end] == token_of[i]
                and _match_at(content, end, lang, learned, longest) is None
            ):
                end += 1
            phrase = tuple(content[i:end])
            fields = FIELDS if negated else TEXT_FIELDS
            clauses.append(Clause((Phrase(phrase),), fields, negated, source=" ".join(phrase)))
            i = end
            continue
        length, kind, terms = found
        source = " ".join(content[i : i + length])
        i += length
        if kind == "drop" or not any(terms):
            continue
        own = tuple(words(source)) if lang == "en" and kind == "condition" else ()
        fields = FIELDS if negated else CONCEPT_FIELDS
        if kind == "modifier":
            fields = FIELDS if negated else TEXT_FIELDS
        if kind == "product":
            own = tuple(content[i - length : i])
        clauses.append(
            Clause(
                _phrases(terms, own),
                fields,
                negated,
                optional=kind in ("modifier", "anatomy") and not negated,
                source=source,
            )
        )
    return clauses


def _settle(clauses: list[Clause]) -> list[Clause]:
    """A body part or a modifier only ranks beside a condition or words that restrict; alone,
    it is what the patient asks for."""
    if any(not c.negated and not c.optional for c in clauses):
        return clauses
    return [Clause(c.phrases, c.fields, c.negated, False, c.source) for c in clauses]


def _quoted_clauses(quoted: str, lang: str) -> list[Clause]:
    """A quoted phrase: its words together, in order; a known phrase keeps its synonyms (each
    a phrase too: "head and neck cancer" also finds "HNSCC")."""
    from trials import vocabulary

    quoted_words = tuple(words(quoted))
    if not quoted_words:
        return []
    entry = vocabulary.lookup(vocabulary.content_key(quoted, lang), lang)
    terms = entry.terms if entry is not None and entry.kind == "condition" else ()
    return [Clause(_phrases(terms, quoted_words), TEXT_FIELDS, source=quoted)]


def understand(text: str, lang: str = "en") -> Understood:
    """The patient's words → clauses: NCT ids; quoted phrases; `-word` exclusions; `or` between
    two words; known phrases in the page's language or in English (conditions with their
    registry names and synonyms, body parts, treatments) and the remaining words."""
    text = (text or "").strip()
    lang = lang if lang in LANGUAGES else "en"
    ids = nct_ids_in(text)
    rest = fold(NCT_RE.sub(" ", text))
    clauses: list[Clause] = []
    run: list[str] = []  # consecutive unquoted words, where known phrases are looked for
    pending_or = False

    def flush() -> None:
        clauses.extend(_concept_clauses(" ".join(run), lang))
        run.clear()

    for match in _TOKEN_RE.finditer(rest):
        quoted, minus, bare = match.group(1), match.group(2), match.group(3)
        if quoted is None and bare in ("or", "ou", "o") and (run or clauses):
            flush()
            pending_or = True
            continue
        if quoted is None and not minus and not pending_or:
            run.append(bare)
            continue
        flush()
        if quoted is not None:
            new = _quoted_clauses(quoted, lang)
        else:
            new = _concept_clauses(bare, lang, negated=bool(minus))
        if pending_or and new and clauses and not clauses[-1].negated and not new[0].negated:
            previous = clauses.pop()
            merged_fields = tuple(f for f in FIELDS if f in previous.fields or f in new[0].fields)
            new[0] = Clause(
                previous.phrases + new[0].phrases,
                merged_fields,
                source=f"{previous.source} or {new[0].source}",
            )
        clauses.extend(new)
        pending_or = False
    flush()
    return Understood(text=text, language=lang, clauses=tuple(_settle(clauses)), nct_ids=tuple(ids))


# --- why a trial matched ---------------------------------------------------------------------

# A run of letters and digits in the text as written (combining accents included), so that the
# marks can be put back around the words of the original text.
_RAW_WORD_RE = re.compile(r"(?:[^\W_]|[\u0300-\u036f])+")
# Punctuation that ends a list item or a sentence: a phrase is not marked across it ("Head and
# Neck, Carcinoma" is two conditions, not "head and neck carcinoma").
_BREAK_RE = re.compile(r"[,;.:!?()\[\]|]")
SNIPPET_WORDS = 40  # words of a summary shown under a result


_STEMMER = snowballstemmer.stemmer("english")
_STEMMER_LOCK = threading.Lock()  # a Snowball stemmer keeps its state in the object


@functools.lru_cache(maxsize=100_000)
def stem(word: str) -> str:
    """The Snowball English stem of a folded word, as PostgreSQL and Tantivy index it: what
    decides that "tumours" in a title is the "tumour" of the query."""
    with _STEMMER_LOCK:
        return _STEMMER.stemWord(word)


def _targets(understood: "Understood") -> list[tuple[str, ...]]:
    """The stemmed words of every phrase that can make a trial match or rank (negated clauses
    excluded; English stopwords dropped, as engines skip them inside phrases), longest first."""
    found: dict[tuple[str, ...], None] = {}
    for clause in understood.clauses:
        if clause.negated:
            continue
        for phrase in clause.phrases:
            key = tuple(stem(w) for w in phrase.words if w not in STOPWORDS)
            if key:
                found[key] = None
    for nct_id in understood.nct_ids:
        found[(nct_id.casefold(),)] = None
    return sorted(found, key=len, reverse=True)


@functools.lru_cache(maxsize=100_000)
def _folded_word(raw: str) -> str:
    """One word of a text as written → as words() gives it (summaries repeat their words:
    folding each occurrence again was most of the cost of marking a page of results)."""
    return "".join(words(raw))


def _matched_spans(text: str, understood: "Understood") -> tuple[list, list[tuple[int, int]]]:
    """The words of `text` ((start, end) in the text) and the spans where a phrase of the
    query occurs (word indices, end excluded), merged and in order."""
    tokens: list[tuple[int, int]] = []
    keys: list[str] = []  # the stem of each content word
    content: list[int] = []  # token index of each content word (stopwords skipped)
    part: list[int] = []  # which list item or sentence each content word is in
    segment = 0
    for m in _RAW_WORD_RE.finditer(text or ""):
        folded = _folded_word(m.group())
        if not folded:
            continue
        between = text[tokens[-1][1] : m.start()] if tokens else ""
        segment += bool(_BREAK_RE.search(between))
        tokens.append(m.span())
        if folded not in STOPWORDS:
            content.append(len(tokens) - 1)
            keys.append(stem(folded))
            part.append(segment)
    at: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        at.setdefault(key, []).append(i)
    slop = {
        tuple(stem(w) for w in p.words if w not in STOPWORDS): p.slop
        for c in understood.clauses
        for p in c.phrases
    }
    spans: list[tuple[int, int]] = []
    for target in _targets(understood):
        allowed = slop.get(target, 0)
        for first in at.get(target[0], ()):
            last, gaps = first, 0
            for word in target[1:]:
                # The earliest next occurrence leaves the most room for the words after it.
                nxt = next((i for i in at.get(word, ()) if i > last), None)
                if nxt is None or gaps + (nxt - last - 1) > allowed or part[nxt] != part[first]:
                    break
                gaps += nxt - last - 1
                last = nxt
            else:
                spans.append((content[first], content[last] + 1))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start < merged[-1][1]:  # overlapping; touching ones stay two marks
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return tokens, merged


def _marked(text: str, tokens: list, spans: list, lo: int, hi: int) -> str:
    """Words lo..hi of `text`, escaped, with the spans inside <mark>."""
    start = tokens[lo][0]
    out: list[str] = []
    cursor = start
    for first, last in spans:
        first, last = max(first, lo), min(last, hi)
        if first >= last:
            continue
        out.append(escape(text[cursor : tokens[first][0]]))
        out.append("<mark>" + escape(text[tokens[first][0] : tokens[last - 1][1]]) + "</mark>")
        cursor = tokens[last - 1][1]
    out.append(escape(text[cursor : tokens[hi - 1][1]]))
    return "".join(out)


def highlight(text: str, understood: "Understood | None") -> SafeString:
    """`text` as safe HTML with the words that made the trial match or rank marked (<mark>):
    the query's phrases and their synonyms, stemmed as the engines stem, whatever the engine."""
    text = text or ""
    if understood is None:
        return escape(text)
    tokens, spans = _matched_spans(text, understood)
    if not spans:
        return escape(text)
    head, tail = text[: tokens[0][0]], text[tokens[-1][1] :]
    body = _marked(text, tokens, spans, 0, len(tokens))
    return mark_safe(escape(head) + body + escape(tail))  # every part is escaped


def snippet(text: str, understood: "Understood | None", size: int = SNIPPET_WORDS) -> SafeString:
    """About `size` words of `text` around the most matched words, marked; the start of the
    text when no word matched."""
    tokens, spans = _matched_spans(text or "", understood) if understood else ([], [])
    if not tokens:
        return escape((text or "").strip())
    lo = 0
    if spans:
        # The window (starting a few words before a match) that holds the most matched words.
        def covered(start: int) -> int:
            return sum(max(0, min(e, start + size) - max(s, start)) for s, e in spans)

        lo = max((max(0, s - 5) for s, _e in spans), key=lambda start: (covered(start), -start))
    hi = min(len(tokens), lo + size)
    lo = max(0, min(lo, hi - size))
    body = _marked(text, tokens, spans, lo, hi)
    before = "… " if lo > 0 else ""
    after = " …" if hi < len(tokens) else ""
    return mark_safe(escape(before) + body + escape(after))  # every part is escaped
