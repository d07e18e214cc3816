"""The glossary: words of registry records explained in plain words, in place.

The terms and their explanations (English, French, Italian) are the data file beside this
module, glossary.tsv, written by the team. `mark` wraps the first use of each term in a block of
registry text in

    <span class="gloss"><dfn tabindex="0">term</dfn>
    <span class="gloss-def"> (explanation)</span></span>   (without the line break)

Without JavaScript and for every reader: a screen reader reads the explanation in the flow of
the text (it is only clipped from view, never display:none); the term is focusable, and on focus
or hover CSS shows the explanation in the line, where it covers nothing (so there is nothing to
dismiss, WCAG 1.4.13); without CSS it reads as a parenthesis.
"""

import csv
import functools
import re
from dataclasses import dataclass
from pathlib import Path

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

GLOSSARY = Path(__file__).resolve().parent / "glossary.tsv"
LANGUAGES = ("en", "fr", "it")


@dataclass(frozen=True)
class Term:
    spellings: tuple[str, ...]
    explanations: dict  # language → explanation

    @property
    def name(self) -> str:
        return self.spellings[0]


@functools.cache
def terms() -> list[Term]:
    with GLOSSARY.open(encoding="utf-8", newline="") as f:
        rows = [r for r in csv.reader(f, delimiter="\t") if r and not r[0].startswith("#")]
    return [
        Term(
            tuple(s.strip() for s in row[0].split("|") if s.strip()),
            dict(zip(LANGUAGES, (cell.strip() for cell in row[1:4]), strict=True)),
        )
        for row in rows
    ]


@functools.cache
def _matcher() -> tuple[re.Pattern, dict[str, Term]]:
    """One pattern for every spelling, longest first ("overall response rate" before
    "response rate"); spellings with capitals match only as written."""
    index: dict[str, Term] = {}
    parts = []
    for term in terms():
        for spelling in term.spellings:
            sensitive = spelling != spelling.lower()
            index[spelling if sensitive else spelling.casefold()] = term
            parts.append((len(spelling), re.escape(spelling) if sensitive else
                          f"(?i:{re.escape(spelling)})"))  # fmt: skip
    parts.sort(key=lambda p: -p[0])
    alternation = "|".join(p for _n, p in parts)
    return re.compile(rf"(?<![\w-])(?:{alternation})(?![\w-])"), index


def lookup(found: str) -> Term | None:
    _pattern, index = _matcher()
    return index.get(found) or index.get(found.casefold())


def mark(text: str, language: str, seen: set | None = None) -> SafeString:
    """`text` escaped, with the first use of each glossary term (not in `seen`, which it
    updates) explained in `language`."""
    return mark_safe(_mark(text, language, set() if seen is None else seen, escape))


_TAG_RE = re.compile(r"(<[^>]*>)")


def mark_html(html: str, language: str, seen: set | None = None) -> SafeString:
    """`mark` for sanitised HTML (trials.markdown's output): terms are looked for in its text
    only, never in tags, links or code."""
    seen = set() if seen is None else seen
    out, skipping = [], 0
    for part in _TAG_RE.split(str(html)):
        if part.startswith("<"):
            name = re.match(r"</?\s*(\w+)", part)
            if name and name[1].lower() in ("a", "code", "pre"):
                skipping += -1 if part.startswith("</") else 1
            out.append(part)
        elif skipping or not part.strip():
            out.append(part)
        else:
            out.append(_mark(part, language, seen, str))  # already escaped HTML text
    return mark_safe("".join(out))


def _mark(text: str, language: str, seen: set, escape_text) -> str:
    pattern, _index = _matcher()
    language = language if language in LANGUAGES else "en"
    out, last = [], 0
    for match in pattern.finditer(text):
        term = lookup(match.group(0))
        if term is None or term.name in seen:
            continue
        seen.add(term.name)
        out.append(escape_text(text[last : match.start()]))
        out.append(
            format_html(
                '<span class="gloss"><dfn tabindex="0">{}</dfn><span class="gloss-def" lang="{}">'
                " ({})</span></span>",
                match.group(0),
                language,
                term.explanations[language],
            )
        )
        last = match.end()
    out.append(escape_text(text[last:]))
    return "".join(out)
