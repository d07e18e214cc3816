"""Spelling corrections: the patient's words → close phrases that exist in the data.

Engine-independent: candidates come from the vocabulary (trials/vocabulary: condition names in
the patient's language and in English, lay names, synonyms) and from the words of the trials'
own condition, MeSH, keyword and intervention names (trials_searchterm, with the number of
trials using each). The search keeps the first candidate that finds trials.
"""

import difflib
import re

from django.db import connection

from trials import vocabulary
from trials.query import NCT_RE, fold, words

PHRASE_CUTOFF = 0.78  # difflib ratio of a whole phrase ("hed and nek cancr" → 0.89)
WORD_SIMILARITY = 0.4  # pg_trgm similarity of a single word ("carcinomma" → "carcinoma")
MAX_CANDIDATES = 4


def correct(text: str, lang: str = "en") -> list[str]:
    """Close phrases for `text`, best first (whole known phrases, then the words corrected one
    by one); empty when nothing is close."""
    text = NCT_RE.sub(" ", text or "")
    if re.search(r'["]|(^|\s)-\S', text):
        return []  # quoted or negated words are meant as written
    key = " ".join(vocabulary.content_key(text, lang))
    if not key:
        return []
    candidates: list[str] = []
    phrases = vocabulary.known_phrases(lang)
    for close in difflib.get_close_matches(key, list(phrases), n=3, cutoff=PHRASE_CUTOFF):
        if close != key:
            candidates.append(phrases[close])
    # The same words in another order ("diabetis type 1" → "type 1 diabetes").
    shuffled = {" ".join(sorted(k.split())): k for k in phrases}
    ordered = " ".join(sorted(key.split()))
    for close in difflib.get_close_matches(ordered, list(shuffled), n=2, cutoff=PHRASE_CUTOFF):
        if close != ordered:
            candidates.append(phrases[shuffled[close]])
    by_word = _words_corrected(text, lang)
    if by_word and by_word not in candidates:
        candidates.append(by_word)
    unique: dict[str, str] = {}
    for candidate in candidates:
        if fold(candidate) != fold(text):
            unique.setdefault(fold(candidate), candidate)
    return list(unique.values())[:MAX_CANDIDATES]


def _words_corrected(text: str, lang: str) -> str | None:
    """`text` with each unknown word replaced by the closest known one, or None."""
    tokens = words(text)
    known = vocabulary.known_words(lang) | vocabulary.function_words(lang)
    unknown = [w for w in dict.fromkeys(tokens) if w not in known and w.isalpha() and len(w) > 2]
    if not unknown:
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT term FROM trials_searchterm WHERE term = ANY(%s)", [unknown])
        in_data = {row[0] for row in cursor.fetchall()}
        replacements = {}
        vocabulary_words = list(vocabulary.known_words(lang))
        for word in unknown:
            if word in in_data:
                continue
            cursor.execute(
                """SELECT term, similarity(term, %s) AS score FROM trials_searchterm
                    WHERE term %% %s AND term !~ ' '
                    ORDER BY score DESC, trial_count DESC LIMIT 1""",
                [word, word],
            )
            row = cursor.fetchone()
            best = (row[1], row[0]) if row and row[1] >= WORD_SIMILARITY else (0.0, None)
            for close in difflib.get_close_matches(word, vocabulary_words, n=1, cutoff=0.75):
                score = difflib.SequenceMatcher(None, word, close).ratio()
                if score > best[0]:
                    best = (score, close)
            if best[1]:
                replacements[word] = best[1]
    if not replacements:
        return None
    return " ".join(replacements.get(w, w) for w in tokens)
