"""Registry texts (summaries, descriptions, criteria) are a Markdown dialect: render them
faithfully and safely.

A CommonMark parser (markdown-it-py) with raw HTML off does the reading: escapes (`\\&`,
`\\[`, `\\<`), emphasis, numbered lists with their first number, nesting. Then nh3 keeps only an
allow-list of tags and attributes, so nothing a sponsor typed can become markup. Emails, and
numbers the text calls phone numbers, are masked (trials.masking.mask_prose): patients reach
research teams through the contact form. Two things the registry writes that CommonMark does
not know are handled around the parser:
- lettered lists ("a. ...", "b. ..."): read as numbered lists, then marked `type="a"` so
  "as described in b." still points somewhere;
- every numbered item keeps the number written (`<li value>`), where CommonMark would
  renumber a list that restarts ("2. ... 1. ... 2.");
- headings inside a text (rare) are moved down to h3-h6 so they stay under the page's own.
"""

import re

import nh3
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

from trials.ctgov import clean_controls
from trials.masking import mask_prose

_MD = MarkdownIt("commonmark", {"html": False, "breaks": True, "linkify": False}).enable("table")

# A lettered item: "a. text", "B) text", indented or not.
_LETTER_RE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<letter>[a-zA-Z])(?P<delim>[.)])(?P<rest>[ \t]+\S.*)$"
)

ALLOWED_TAGS = {
    "p", "br", "ul", "ol", "li", "strong", "em", "code", "pre", "blockquote", "hr", "a",
    "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"ol": {"start", "type"}, "li": {"value"}, "a": {"href", "title"}}


def _lettered_items(lines: list[str]) -> dict[int, str]:
    """Line index → "a" or "A" for the lines that are items of a lettered list: two items in a
    row at one indent with consecutive letters ("a." then "b."). A lone "A. Smith said" is a
    sentence, not a list."""
    found: dict[int, str] = {}
    last: dict[tuple[int, bool], tuple[int, int]] = {}  # (indent, upper) → (letter, line)
    for index, line in enumerate(lines):
        match = _LETTER_RE.match(line)
        if not match:
            continue
        letter = match["letter"]
        key = (len(match["indent"].expandtabs(4)), letter.isupper())
        previous = last.get(key)
        if previous and ord(letter) == previous[0] + 1:
            kind = "A" if letter.isupper() else "a"
            found[previous[1]] = found[index] = kind
        last[key] = (ord(letter), index)
    return found


def _as_numbers(lines: list[str], lettered: dict[int, str]) -> str:
    out = []
    for index, line in enumerate(lines):
        if index in lettered:
            match = _LETTER_RE.match(line)
            assert match is not None  # `lettered` holds only the lines this pattern matched
            number = ord(match["letter"].lower()) - ord("a") + 1
            line = f"{match['indent']}{number}{match['delim']}{match['rest']}"
        out.append(line)
    return "\n".join(out)


def render(text: str) -> SafeString:
    """Registry Markdown → sanitised HTML."""
    if not text or not text.strip():
        return mark_safe("")
    lines = mask_prose(clean_controls(text)).split("\n")
    lettered = _lettered_items(lines)
    tokens = _MD.parse(_as_numbers(lines, lettered))
    for token in tokens:
        if token.type == "ordered_list_open" and token.map and token.map[0] in lettered:
            token.attrSet("type", lettered[token.map[0]])
        elif token.type == "list_item_open" and token.info.isdigit():
            # Each item keeps the number the registry wrote: CommonMark renumbers "2. ... 1.
            # ... 2." as 2, 3, 4, and "as described in 1." would point at the wrong item.
            token.attrSet("value", token.info)
        elif token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + 2, 6)}"
    html = _MD.renderer.render(tokens, _MD.options, {})
    return mark_safe(_clean(html))  # sanitised by nh3 just above


def render_inline(text: str) -> SafeString:
    """A short registry field (an outcome's measure, a group's label): escapes resolved,
    emphasis kept, no paragraphs."""
    if not text:
        return mark_safe("")
    html = _MD.renderInline(mask_prose(clean_controls(text)))
    return mark_safe(_clean(html))  # sanitised by nh3


_BOLD_RE = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")


def render_plain_item(text: str) -> SafeString:
    """One criterion of the split eligibility lists, whose escapes the splitter already
    resolved: escaped as text, with the registry's **bold** kept (markdown again would read
    an unescaped `\\*` as emphasis) and its line breaks."""
    html = _BOLD_RE.sub(r"<strong>\1</strong>", escape(mask_prose(clean_controls(text))))
    return mark_safe(html.replace("\n", "<br>\n"))  # escaped first


def _clean(html: str) -> str:
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener nofollow noreferrer",
    )
