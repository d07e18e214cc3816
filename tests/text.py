"""Reading a page's text as a patient sees it."""

import re


def visible(html: str) -> str:
    """The page's text without tags and without the glossary's in-place explanations (shown on
    hover or focus only)."""
    html = re.sub(r'<span class="gloss-def"[^>]*>[^<]*</span>', "", html)
    return re.sub(r"<[^>]+>", "", html)
