"""The consent a patient gives with an inquiry. Its text is stored with each inquiry verbatim, in
the language it was shown in, with this version: change the text, change the version."""

from django.utils.translation import gettext_lazy as _

CONSENT_VERSION = "2026-11-v1"
CONSENT_TEXT = _(
    "I agree that TrialFinder sends my contact details, my message and my answers to the "
    "research team of the study site I chose, so that they can contact me about this trial. "
    "I can withdraw at any time with the link in the confirmation email: my personal data is "
    "then erased."
)
