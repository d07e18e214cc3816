"""Template helpers for trial pages."""

import re
from typing import Any

from django import template
from django.http import QueryDict
from django.utils.html import format_html
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from trials import markdown
from trials.countries import country_name
from trials.geo import describe_distance
from trials.plain.glossary import mark_html as gloss_html
from trials.query import highlight

register = template.Library()


@register.filter
def registry_text(text: str) -> str:
    """Registry Markdown → sanitised HTML (trials.markdown), glossary terms explained at their
    first use (trials.plain.glossary)."""
    return gloss_html(markdown.render(text), _language(), set())


def _language() -> str:
    return (get_language() or "en")[:2]


@register.filter
def registry_inline(text: str) -> str:
    """A short registry field (measure, label, time frame) → safe inline HTML."""
    return markdown.render_inline(text)


@register.filter
def criterion(text: str) -> str:
    """One item of the split eligibility lists (escapes already resolved) → safe HTML."""
    return markdown.render_plain_item(text)


@register.filter
def matched(text, understood) -> str:
    """`text` (or a list, joined by commas) escaped, with the words that made the result match
    marked (<mark>). Before any truncation: use truncatechars_html after it."""
    if isinstance(text, list | tuple):
        text = ", ".join(str(item) for item in text)
    return highlight(str(text or ""), understood or None)


@register.filter
def country(code: str) -> str:
    return country_name(code)


@register.filter
def distance(km, city: str = "") -> str:
    """A distance no more precise than the data: the registry places a site at the centre of its
    city, so a few km mean "in the same city" and the rest is rounded ("about 10 km")."""
    return describe_distance(km, city)


@register.simple_tag
def query_with(params: QueryDict | list, **changes: Any) -> str:
    """The current GET parameters with some replaced (pagination, "widen" links)."""
    data = QueryDict(mutable=True)
    for key, value in params.items() if isinstance(params, dict) else params:
        data.appendlist(key, str(value))
    for key, value in changes.items():
        data.pop(key, None)
        if value not in (None, ""):
            data[key] = str(value)
    return data.urlencode()


@register.filter
def status_badge(status: str) -> str:
    """Bootstrap badge class for a trial or site status."""
    if status == "RECRUITING":
        return "text-bg-success"
    if status in ("NOT_YET_RECRUITING", "ENROLLING_BY_INVITATION"):
        return "text-bg-info"
    if status in ("", None):
        return "text-bg-light border"
    return "text-bg-secondary"


@register.simple_tag
def masked(kind: str) -> str:
    """Contact details are never printed: the contact form routes messages to the site."""
    return format_html(
        '<span aria-label="{}">{}</span>',
        _("hidden") if kind else "",
        "•••-•••-••••" if kind == "phone" else "•••••@•••••",
    )


_AGE_RE = re.compile(r"^\s*(\d+)\s*(year|month|week|day|hour|minute)s?\s*$", re.IGNORECASE)


def _age(text: str) -> str:
    from django.utils.translation import ngettext

    match = _AGE_RE.match(text or "")
    if not match:
        return text
    n, unit = int(match.group(1)), match.group(2).lower()
    forms = {
        "year": ngettext("%(n)d year", "%(n)d years", n),
        "month": ngettext("%(n)d month", "%(n)d months", n),
        "week": ngettext("%(n)d week", "%(n)d weeks", n),
        "day": ngettext("%(n)d day", "%(n)d days", n),
        "hour": ngettext("%(n)d hour", "%(n)d hours", n),
        "minute": ngettext("%(n)d minute", "%(n)d minutes", n),
    }
    return forms[unit] % {"n": n}


@register.filter
def age_range(trial) -> str:
    """ "18 years and older", "6 months to 17 years", "All ages" in the active language."""
    low, high = trial.minimum_age, trial.maximum_age
    # "130 Years" and the like mean "no upper limit" in real records.
    if high and trial.maximum_age_days and trial.maximum_age_days >= 100 * 365:
        high = ""
    if low and high:
        return _("%(low)s to %(high)s") % {"low": _age(low), "high": _age(high)}
    if low:
        return _("%(low)s and older") % {"low": _age(low)}
    if high:
        return _("up to %(high)s") % {"high": _age(high)}
    return _("All ages")


@register.inclusion_tag("trials/_criteria.html")
def criteria(items: list, depth: int = 0, seen: set | None = None):
    # One set of explained glossary terms per list, nested lists included.
    return {"items": items, "depth": depth, "seen": set() if seen is None else seen}


@register.simple_tag
def glossed(text: str, seen: set) -> str:
    """One criterion (see `criterion`) with its glossary terms explained, each at its first use
    in the list."""
    return gloss_html(markdown.render_plain_item(text or ""), _language(), seen)


@register.filter
def official_role(role: str) -> str:
    from trials.models import ContactRole

    try:
        return str(ContactRole(role).label)
    except ValueError:
        return role.replace("_", " ").lower().capitalize()


@register.simple_tag
def registry_date(date, precision: str = "day") -> str:
    """A registry date as precise as the registry gave it: "2024", "March 2024", "March 5, 2024"
    (never "January 2024" for a year-only date)."""
    from django.utils.formats import date_format

    if not date:
        return ""
    if precision == "year":
        return str(date.year)
    if precision == "month":
        return date_format(date, "YEAR_MONTH_FORMAT")
    return date_format(date, "DATE_FORMAT")


@register.filter
def date_kind(kind: str) -> str:
    """ "ACTUAL" / "ESTIMATED" → the label shown after a date; "" when the record has no type."""
    if kind == "ACTUAL":
        return _("actual")
    if kind == "ESTIMATED":
        return _("estimated")
    return ""


@register.filter
def arm_type(value: str) -> str:
    from trials.models import ArmGroupType

    try:
        return str(ArmGroupType(value).label)
    except ValueError:
        return value.replace("_", " ").lower().capitalize()


@register.filter
def intervention_type(value: str) -> str:
    from trials.models import InterventionType

    try:
        return str(InterventionType(value).label)
    except ValueError:
        return value.replace("_", " ").lower().capitalize()


@register.filter
def status_label(value: str) -> str:
    from trials.models import TrialStatus

    try:
        return str(TrialStatus(value).label)
    except ValueError:
        return value


@register.filter
def mask_contacts(text: str) -> str:
    """Free text (a name, a role, an affiliation) with phone numbers and emails masked."""
    from trials.masking import mask_free_text

    return mask_free_text(text)


@register.filter
def condition_name(term: str) -> str:
    """A registry condition term in the page's language, where the vocabulary knows it."""
    from django.utils.translation import get_language

    from trials.vocabulary import display_name

    language = (get_language() or "en")[:2]
    return (display_name(term, language) if language != "en" else None) or term


@register.filter
def condition_label(term: str) -> str:
    """The condition in the page's language with the registry's term beside it, when they
    differ ("cancer de la tête et du cou (Head and Neck Neoplasms)")."""
    local = condition_name(term)
    if local == term:
        return format_html('<span lang="en">{}</span>', term)
    return format_html('{} <span class="registry-term" lang="en">({})</span>', local, term)
