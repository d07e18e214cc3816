"""Split a registry eligibility text into inclusion and exclusion lists.

Real texts are one Markdown string, usually "Inclusion Criteria:\\n\\n* item\\n\\nExclusion
Criteria:\\n\\n* item", with nested bullets, numbered items, headings that vary ("Key Inclusion
Criteria:", "Inclusion Criteria (Parts 1 and 2):", "* INCLUSION CRITERIA:", a typo
"Inclusion Criteriar:") and sometimes several inclusion/exclusion sections (per cohort).

Items are {"text": str, "children": [items]}, plus "marker" ("1.", "b)") for numbered and
lettered items, kept because criteria refer to each other by number; a section heading that
says more than "Inclusion Criteria" (e.g. "Inclusion Criteria for Cohort B") is kept as an
item with "heading": True whose children are that section's items. Nothing is dropped:
every word of the text ends up in one of the two lists. A text with no inclusion or
exclusion heading is not split (both lists empty) and the page shows it as written.
"""

import re

# A section heading: up to four words before "inclusion"/"exclusion", then "criteria"
# (any ending: the registry has a "Criteriar" typo). Bullets and emphasis around it are noise.
_HEADING_RE = re.compile(
    r"^[\s*#>_\-]*(?:\(?\d{1,2}[.)]\s*)?"
    r"(?P<label>(?:[\w/\-]+\s+){0,4}?(?P<kind>inclusion|exclusion)\s+criteri[a-z]*\b.*?)"
    r"[\s*_]*$",
    re.IGNORECASE,
)
# "Inclusion Criteria:1. Men or women..." : a heading with the first item on the same line.
_INLINE_HEADING_RE = re.compile(
    r"^[\s*#>_\-]*(?P<label>(?:key\s+|main\s+)?(?P<kind>inclusion|exclusion)\s+criteri[a-z]*\s*:)"
    r"\s*(?P<rest>\S.*)$",
    re.IGNORECASE,
)
_PLAIN_HEADING_RE = re.compile(r"^(inclusion|exclusion)\s+criteri[a-z]*\s*:?$", re.IGNORECASE)
_BULLET_RE = re.compile(
    r"^(?P<indent>\s*)(?P<marker>[*\-+•]|\d{1,3}[.)]|[a-zA-Z][.)])\s+(?P<text>.*)$"
)
# Markdown backslash escapes: any ASCII punctuation, as CommonMark reads them (seen in registry
# texts: \>= \< \[ \] \* \^ \& 3\.).
_ESCAPE_RE = re.compile(r"\\([!-/:-@\[-`{-~])")
_MIDLINE_EXCLUSION_RE = re.compile(
    r"(?<=\S)\s+-?\s*((?:key\s+)?exclusion\s+criteria\s*:)", re.IGNORECASE
)
MAX_HEADING_LENGTH = 120


def unescape(text: str) -> str:
    return _ESCAPE_RE.sub(r"\1", text)


def _section_heading(line: str):
    """(kind, label, rest of the line) when the line is an inclusion/exclusion heading."""
    stripped = line.strip()
    inline = _INLINE_HEADING_RE.match(stripped)
    if inline:
        return inline.group("kind").lower(), inline.group("label").strip(), inline.group("rest")
    if not stripped or len(stripped) > MAX_HEADING_LENGTH:
        return None
    match = _HEADING_RE.match(stripped)
    if not match:
        return None
    label = match.group("label").strip()
    # A sentence that merely mentions criteria ("Inclusion criteria apply to...") is not a
    # heading: headings end with a colon or are short and unpunctuated.
    if not (label.endswith(":") or (len(label) <= 80 and not label.endswith((".", ";")))):
        return None
    return match.group("kind").lower(), label, ""


def split_eligibility(text: str) -> tuple[list[dict], list[dict]]:
    """(inclusion items, exclusion items); ([], []) when the shape is not recognised."""
    if not text or not text.strip():
        return [], []
    text = unescape(text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = text.split("\n")
    if not any((h := _section_heading(line)) and h[0] == "exclusion" for line in lines):
        # One-line texts ("... - Exclusion Criteria:1. Have a history..."): break before an
        # exclusion heading found mid-line.
        lines = _MIDLINE_EXCLUSION_RE.sub(r"\n\1", text).split("\n")

    sections: list[tuple[str, str, list[str]]] = []  # (kind, label, lines)
    preamble: list[str] = []
    for line in lines:
        heading = _section_heading(line)
        if heading:
            kind, label, rest = heading
            sections.append((kind, label, [rest] if rest else []))
        elif sections:
            sections[-1][2].append(line)
        else:
            preamble.append(line)
    if not sections:
        return [], []

    inclusion: list[dict] = []
    exclusion: list[dict] = []
    # Text before the first heading ("Subjects must meet all of the following...") introduces
    # the inclusion list.
    inclusion.extend(_parse_items(preamble))
    for kind, label, body in sections:
        items = _parse_items(body)
        target = inclusion if kind == "inclusion" else exclusion
        if _PLAIN_HEADING_RE.match(label):
            target.extend(items)
        else:
            target.append({"text": label.rstrip(":").strip(), "heading": True, "children": items})
    return inclusion, exclusion


def _parse_items(lines: list[str]) -> list[dict]:
    """Bullets, numbered items and paragraphs → a tree by indentation."""
    root: list[dict] = []
    # (indent, item): the chain of open items a deeper bullet or continuation line belongs to.
    stack: list[tuple[int, dict]] = []
    blank_before = True
    for raw in lines:
        if not raw.strip():
            blank_before = True
            continue
        indent = len(raw) - len(raw.lstrip(" \t"))
        bullet = _BULLET_RE.match(raw)
        if bullet:
            text = bullet.group("text").strip()
            item: dict = {"text": text, "children": []}
            marker = bullet.group("marker")
            if marker[0].isalnum():
                # "1." or "b)": the criteria refer to each other by it ("see 3."), keep it.
                item["marker"] = marker
            while stack and stack[-1][0] >= indent:
                stack.pop()
            (stack[-1][1]["children"] if stack else root).append(item)
            stack.append((indent, item))
        else:
            text = raw.strip()
            # An indented line continues the deepest item above it; so does an unindented line
            # directly under an item (no blank line between).
            owner = None
            if indent > 0:
                owner = next((it for ind, it in reversed(stack) if ind < indent), None)
            elif stack and not blank_before:
                owner = stack[-1][1]
            if owner is not None:
                owner["text"] = f"{owner['text']}{chr(10) * 2 if blank_before else ' '}{text}"
            else:
                # A paragraph; a short line ending with ":" heads the bullets that follow.
                item = {"text": text, "children": []}
                root.append(item)
                stack = [(-1, item)] if text.endswith(":") else []
        blank_before = False
    return root


def flatten(items: list[dict]) -> list[str]:
    """Every text of a tree, in document order (used by tests and by the print view)."""
    out = []
    for item in items:
        out.append(item["text"])
        out.extend(flatten(item.get("children", [])))
    return out
