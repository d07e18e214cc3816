"""What search engines read: the page in every language (hreflang) and a trial as schema.org
MedicalTrial structured data (JSON-LD)."""

from django import template
from django.conf import settings
from django.utils.html import json_script
from django.utils.safestring import mark_safe

from config.i18n import alternates
from trials.countries import country_name
from trials.models import Phase, Trial, TrialStatus

register = template.Library()

# schema.org's MedicalStudyStatus members for the registry's overall statuses; a status with no
# exact counterpart is left out rather than approximated.
_STATUS: dict[str, str] = {
    TrialStatus.RECRUITING: "Recruiting",
    TrialStatus.NOT_YET_RECRUITING: "NotYetRecruiting",
    TrialStatus.ENROLLING_BY_INVITATION: "EnrollingByInvitation",
    TrialStatus.ACTIVE_NOT_RECRUITING: "ActiveNotRecruiting",
    TrialStatus.SUSPENDED: "Suspended",
    TrialStatus.TERMINATED: "Terminated",
    TrialStatus.COMPLETED: "Completed",
    TrialStatus.WITHDRAWN: "Withdrawn",
}
# schema.org's MedicalTrialDesign does not cover phases: phases go to `phase` as text.
_PHASES: dict[str, str] = {
    Phase.EARLY_PHASE1: "Early Phase 1",
    Phase.PHASE1: "Phase 1",
    Phase.PHASE2: "Phase 2",
    Phase.PHASE3: "Phase 3",
    Phase.PHASE4: "Phase 4",
}


@register.simple_tag(takes_context=True)
def language_alternates(context, full_path: str = "") -> list[tuple[str, str]]:
    """(language, absolute URL) of the current page in each language; [] for pages that have
    one version (the admin)."""
    request = context.get("request")
    if request is None or getattr(request, "resolver_match", None) is None:
        return []
    return alternates(full_path or request.get_full_path())


@register.simple_tag(takes_context=True)
def trial_json_ld(context, trial: Trial) -> str:
    """<script type="application/ld+json"> describing the trial, from registry fields only."""
    language = context.get("LANGUAGE_CODE") or settings.LANGUAGE_CODE
    data = {
        "@context": "https://schema.org",
        "@type": "MedicalTrial",
        "identifier": trial.nct_id,
        "name": trial.title,
        "url": settings.SITE_URL + trial.get_absolute_url(),
        "inLanguage": language,
        "sameAs": trial.registry_url,
    }
    if trial.official_title:
        data["alternateName"] = trial.official_title
    if trial.brief_summary:
        data["description"] = trial.brief_summary
    if trial.overall_status in _STATUS:
        data["status"] = f"https://schema.org/{_STATUS[trial.overall_status]}"
    phases = [_PHASES[p] for p in trial.phases if p in _PHASES]
    if phases:
        data["phase"] = " / ".join(phases)
    if trial.conditions:
        data["healthCondition"] = [
            {"@type": "MedicalCondition", "name": name} for name in trial.conditions
        ]
    if trial.lead_sponsor:
        data["sponsor"] = {"@type": "Organization", "name": trial.lead_sponsor}
    if trial.country_codes:
        data["studyLocation"] = [
            {"@type": "Country", "name": country_name(code)} for code in trial.country_codes
        ]
    if trial.start_date:
        # As precise as the registry is: "2025-03" stays a month.
        length = {"year": 4, "month": 7}.get(trial.start_date_precision, 10)
        data["startDate"] = trial.start_date.isoformat()[:length]
    # json_script escapes <, > and & so that the text cannot close the element; the type is
    # not JavaScript, so the browser neither runs it nor applies the script CSP to it.
    html = json_script(data).replace('type="application/json"', 'type="application/ld+json"', 1)
    return mark_safe(html)  # json_script escaped the data
