"""How hard a plain-language text is to read, as a school grade (US grades: 8 ≈ age 13-14).

One standard formula per language, each with its own published scale, brought to one grade so
that staff get one target whatever the language:

- English: Flesch-Kincaid grade level (Kincaid et al., 1975), a grade already:
      0.39 * words/sentences + 11.8 * syllables/words - 15.59
- French: Kandel & Moles (1958), Flesch's reading ease adapted to French:
      207 - 1.015 * words/sentences - 73.6 * syllables/words
  converted to a grade with Flesch's own table (90-100: 5th grade, 80-90: 6th, 70-80: 7th,
  60-70: 8th-9th, 50-60: 10th-12th, 30-50: college, 0-30: graduate), interpolated linearly
  between the middles of its bands (FLESCH_GRADES).
- Italian: Gulpease index (Lucisano & Piemontese, 1988), which counts letters, not syllables:
      89 + (300 * sentences - 10 * letters) / words
  converted with its published thresholds — below 80 hard for elementary school (5 years), below
  60 for middle school (8), below 40 for high school (13) — interpolated linearly
  (GULPEASE_GRADES).

Syllables are counted with vowel-group heuristics per language (a few percent off on real
words, which is the precision of the formulas anyway). static/js/readability.js mirrors this
module line for line so that the admin shows the same grade as staff type; a browser test keeps
the two in step.
"""

import re

# Letters of the three languages; an apostrophe inside a word joins it ("l'essai" reads as
# one word of two syllables, "don't" as one).
APOSTROPHES = "'\u2019"
WORD_RE = re.compile(rf"[a-zà-öø-ÿœæ]+(?:[{APOSTROPHES}][a-zà-öø-ÿœæ]+)*")
# A sentence ends at . ! ? … followed by a space or the end (not "2.5"), or at a line break
# (titles and list items carry no full stop).
SENTENCE_END_RE = re.compile(r"[.!?…]+(?=\s|$)|\n+")
VOWELS = {
    "en": re.compile(r"[aeiouy]+"),
    "fr": re.compile(r"[aeiouyàâäéèêëîïôöùûüÿœæ]+"),
    "it": re.compile(r"[aeiouàèéìíòóùú]+"),
}
# English endings that add no syllable, tried in order: (pattern, letters to drop). A final
# "le" after a consonant is a syllable ("table", "people"); a final e, es or ed mostly is not
# ("make", "takes", "used"), except es after a hissing sound ("uses") and ed after t or d
# ("tested", "needed").
EN_SILENT_ENDINGS = [
    (re.compile(r"[^aeiouy]les?$"), 0),
    (re.compile(r"[^aeiouy]e$"), 1),
    (re.compile(r"[^aeiouysxzh]es$"), 2),
    (re.compile(r"[^aeiouydt]ed$"), 2),
]
# French: a final mute e or es after a consonant ("étude", "études"; not "les", "été").
FR_MUTE_E_RE = re.compile(r"[^aeiouyàâäéèêëîïôöùûüÿœæ]es?$")

# (reading ease, grade) at the middle of each band of Flesch's table.
FLESCH_GRADES = [(95.0, 5.0), (85.0, 6.0), (75.0, 7.0), (65.0, 8.5), (55.0, 11.0), (40.0, 14.5)]
FLESCH_GRADES += [(15.0, 17.5)]
# (Gulpease index, grade): end of elementary (5), middle (8) and high school (13).
GULPEASE_GRADES = [(100.0, 2.0), (80.0, 5.0), (60.0, 8.0), (40.0, 13.0), (20.0, 18.0)]
MIN_GRADE, MAX_GRADE = 1.0, 18.0
LANGUAGES = ("en", "fr", "it")


def words(text: str) -> list[str]:
    found = WORD_RE.findall((text or "").lower())
    return [w.replace("'", "").replace("\u2019", "") for w in found]


def sentence_count(text: str) -> int:
    return sum(1 for part in SENTENCE_END_RE.split(text or "") if words(part))


def syllables(word: str, language: str) -> int:
    """Vowel groups, less a silent final e in English and French; at least one."""
    word = word.lower()
    if language == "en":
        if len(word) <= 3:
            return 1
        for pattern, drop in EN_SILENT_ENDINGS:
            if pattern.search(word):
                word = word[: len(word) - drop]
                break
        word = word.removeprefix("y")  # "year", "young": a consonant
    elif language == "fr" and FR_MUTE_E_RE.search(word) and len(VOWELS["fr"].findall(word)) > 1:
        word = word[:-2] if word.endswith("es") else word[:-1]
    return max(1, len(VOWELS.get(language, VOWELS["en"]).findall(word)))


def _interpolate(value: float, table: list[tuple[float, float]]) -> float:
    """Piecewise linear through (score, grade) points by decreasing score; beyond either end,
    the nearest segment's slope continues."""
    index = 0
    while index < len(table) - 2 and value < table[index + 1][0]:
        index += 1
    (high, high_grade), (low, low_grade) = table[index], table[index + 1]
    return high_grade + (high - value) * (low_grade - high_grade) / (high - low)


def _clamp(grade: float) -> float:
    return round(min(MAX_GRADE, max(MIN_GRADE, grade)), 1)


def grade(text: str, language: str) -> float | None:
    """The school grade needed to read `text` in `language` (en, fr, it); None without words."""
    found = words(text)
    if not found:
        return None
    language = language if language in LANGUAGES else "en"
    word_count = len(found)
    sentences = max(1, sentence_count(text))
    if language == "it":
        letters = sum(len(w) for w in found)
        gulpease = 89 + (300 * sentences - 10 * letters) / word_count
        return _clamp(_interpolate(gulpease, GULPEASE_GRADES))
    syllable_count = sum(syllables(w, language) for w in found)
    if language == "fr":
        ease = 207 - 1.015 * word_count / sentences - 73.6 * syllable_count / word_count
        return _clamp(_interpolate(ease, FLESCH_GRADES))
    kincaid = 0.39 * word_count / sentences + 11.8 * syllable_count / word_count - 15.59
    return _clamp(kincaid)
