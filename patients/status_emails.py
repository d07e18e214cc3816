"""The emails a patient gets when a coordinator moves their inquiry: staff-written texts
(patients.StatusEmail), one per status and language, with a few placeholders.

Staff text is data, never a template: placeholders are replaced by plain string substitution
of a fixed set of names (no attribute access, no template tags), and the HTML part escapes
everything (templates/emails/inquiry-status-body.html).
"""

import re

from django.utils import translation

from patients.models import STATUS_EMAIL_PLACEHOLDERS, Inquiry, StatusEmail
from patients.sites import site_name

PLACEHOLDER_RE = re.compile(r"\{(\w+)\}")


def unknown_placeholders(text: str) -> list[str]:
    """Names in {braces} that are not placeholders (the admin refuses them: a typo would
    reach the patient as "{frist_name}")."""
    return sorted(
        {m.group(1) for m in PLACEHOLDER_RE.finditer(text or "")} - set(STATUS_EMAIL_PLACEHOLDERS)
    )


def fill(text: str, values: dict[str, str]) -> str:
    """Replace {name} by values[name] for known names only; anything else stays as typed."""
    return PLACEHOLDER_RE.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def values_for(inquiry: Inquiry) -> dict[str, str]:
    return {
        "first_name": inquiry.first_name,
        "site": site_name(inquiry.site),
        "trial": inquiry.trial.title,
        "nct_id": inquiry.trial.nct_id,
    }


def text_for(status: str, language: str) -> StatusEmail | None:
    """The text to send for `status` in `language`, or None when staff turned it off."""
    return StatusEmail.objects.filter(status=status, language=language, enabled=True).first()


def render(text: StatusEmail, inquiry: Inquiry) -> tuple[str, str]:
    """(subject, body) for this patient, as plain text."""
    with translation.override(text.language):
        values = values_for(inquiry)
    # One line; French keeps its no-break spaces (only ASCII whitespace folds).
    subject = re.sub(r"[ \t\n\r\f\v]+", " ", fill(text.subject, values)).strip()
    body = fill(text.body.replace("\r\n", "\n"), values).strip()
    return subject, body
