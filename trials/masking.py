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
