"""Display helpers for inquiries (pages, admin, emails)."""

from django import template
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from patients import sites

register = template.Library()


@register.filter
def answer_label(value: str) -> str:
    """A pre-screening answer as stored ("yes", "FEMALE", "54") → words for a person."""
    labels = {"yes": _("Yes"), "no": _("No"), "FEMALE": _("Female"), "MALE": _("Male")}
    return labels.get(value, value)


@register.filter
def question_label(answer: dict) -> str:
    """The question of a pre-screening answer in the language being written (an email, a page):
    the age and sex questions are ours; staff-written ones in the language staff gave, else as
    written."""
    labels = {"age": _("How old are you?"), "sex": _("What is your sex?")}
    kind = str(answer.get("kind") or "")
    if kind in labels:
        return str(labels[kind])
    texts = answer.get("texts") or {}
    return str(texts.get((get_language() or "")[:2]) or answer.get("question", ""))


register.filter("site_name", sites.site_name)


EMAIL_LABELS = {
    "inquiry-to-site": gettext_lazy("Email to the research team"),
    "inquiry-copy": gettext_lazy("Copy to the patient"),
    "inquiry-reply": gettext_lazy("Reply to the patient"),
    "inquiry-withdrawn": gettext_lazy("Withdrawal notice to the research team"),
    "inquiry-status": gettext_lazy("Status update to the patient"),
    "inquiry-chasing": gettext_lazy("“We are chasing it” to the patient"),
    "inquiry-reminder": gettext_lazy("Reminder to a coordinator"),
    "inquiry-escalated": gettext_lazy("Escalation to the TrialFinder team"),
}


@register.filter
def email_label(template_name: str) -> str:
    return str(EMAIL_LABELS.get(template_name, template_name))
