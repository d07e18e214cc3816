"""Contact details never appear on a page: patients reach research teams through the contact
form. Registry free text sometimes holds them where no one expects (a contact *name* reading
"Call 1-877-... or 1-317-...", an official's affiliation with an email): mask them there too."""

import re

PHONE_MASK = "•••-•••-••••"
EMAIL_MASK = "•••••@•••••"

_EMAIL_RE = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
# A run of digits with the usual separators, seven digits or more: "1-877-240-9479",
# "+39 02 8224 1", "(317) 615-4559". Shorter numbers (years, "Phase 3", postcodes) stay.
_PHONE_RE = re.compile(r"(?<![\w])\+?(?:\(?\d[\d\s().\-/]*){7,}(?<=\d)\)?(?![\w])")
# Letters for digits: "1-877-CTLILLY", "1-800-4-CANCER".
_VANITY_RE = re.compile(r"(?<![\w])\+?1?[\s.-]?\(?8\d\d\)?[\s.-]?(?:\d+[\s.-]?)?[A-Z]{4,}(?![\w])")
_YEARS_RE = re.compile(r"^\d{4}\s*[-\u2013/]\s*\d{4}$")  # "2020-2021" is a period, not a phone


def _phone(match: re.Match) -> str:
    text = match.group(0)
    if _YEARS_RE.match(text.strip("() ")):
        return text
    return PHONE_MASK if sum(c.isdigit() for c in text) >= 7 else text


def mask_free_text(text: str) -> str:
    """The text with email addresses and phone numbers replaced by their masks."""
    if not text:
        return text
    text = _EMAIL_RE.sub(EMAIL_MASK, text)
    return _VANITY_RE.sub(PHONE_MASK, _PHONE_RE.sub(_phone, text))


# In registry prose a bare digit run is usually a drug code ("PF-07220060"), a reference
# ("Cancer 1985; 55: 1468 1472") or a protocol number: only a number introduced as a phone
# number is one.
_PHONE_CONTEXT_RE = re.compile(
    r"(?i)\b(?:call(?:ing)?|phone|telephone|tel|fax|hotline|toll[- ]free|mobile|cell)\b"
    r"[^\n\d+(]{0,20}"
)


def mask_prose(text: str) -> str:
    """Registry prose (summaries, descriptions, criteria) with emails masked, and phone numbers
    masked where the text presents them as such ("call 1-877-..."), so drug codes and
    references stay as written."""
    if not text:
        return text
    text = _EMAIL_RE.sub(EMAIL_MASK, text)

    out, position = [], 0
    for context in _PHONE_CONTEXT_RE.finditer(text):
        if context.start() < position:
            continue
        end = context.end()
        # The number, and any "or 1-317-..." that follows it.
        while number := (_PHONE_RE.match(text, end) or _VANITY_RE.match(text, end)):
            if number.re is _PHONE_RE and _phone(number) == number.group(0):
                break
            out.append(text[position:end])
            out.append(PHONE_MASK)
            position = end = number.end()
            joiner = re.match(r"\s*(?:,|or|and|/)?\s*", text[end:])
            end += joiner.end() if joiner else 0
    out.append(text[position:])
    return "".join(out)
