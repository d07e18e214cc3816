"""What changed in a trial, in plain words (the trial page's history and the alert emails)."""

from django.utils.translation import gettext as _

from trials.models import SiteStatus, TrialStatus

# Record paths (TrialVersion.changed_fields) → what a patient would call them.
FIELD_NAMES = {
    "protocolSection.statusModule.overallStatus": lambda: _("recruitment status"),
    "protocolSection.contactsLocationsModule.locations": lambda: _("study sites"),
    "protocolSection.contactsLocationsModule.centralContacts": lambda: _("study contacts"),
    "protocolSection.eligibilityModule.eligibilityCriteria": lambda: _("who can take part"),
    "protocolSection.eligibilityModule.minimumAge": lambda: _("age limits"),
    "protocolSection.eligibilityModule.maximumAge": lambda: _("age limits"),
    "protocolSection.eligibilityModule.sex": lambda: _("who can take part"),
    "protocolSection.descriptionModule.briefSummary": lambda: _("summary"),
    "protocolSection.descriptionModule.detailedDescription": lambda: _("description"),
    "protocolSection.identificationModule.briefTitle": lambda: _("title"),
    "protocolSection.identificationModule.officialTitle": lambda: _("title"),
    "protocolSection.armsInterventionsModule": lambda: _("treatments studied"),
    "protocolSection.designModule": lambda: _("study design"),
    "protocolSection.outcomesModule": lambda: _("what the study measures"),
    "protocolSection.conditionsModule": lambda: _("conditions"),
    "protocolSection.sponsorCollaboratorsModule": lambda: _("sponsor"),
    "protocolSection.statusModule": lambda: _("study dates"),
    "resultsSection": lambda: _("results"),
}


def field_labels(paths: list[str]) -> list[str]:
    """Readable, de-duplicated names for changed record paths (most specific match wins)."""
    labels: list[str] = []
    for path in paths:
        match = max(
            (prefix for prefix in FIELD_NAMES if path == prefix or path.startswith(prefix + ".")),
            key=len,
            default=None,
        )
        label = FIELD_NAMES[match]() if match else _("other registry details")
        if label not in labels:
            labels.append(label)
    return labels


def _status(value: str) -> str:
    if not value:
        return _("no status given")
    try:
        return str(TrialStatus(value).label).lower()
    except ValueError:
        try:
            return str(SiteStatus(value).label).lower()
        except ValueError:
            return value.lower().replace("_", " ")


def _where(site: dict) -> str:
    return site.get("city") or site.get("facility") or site.get("country") or _("a site")


def describe(change: dict) -> str:
    """One patient-facing sentence for a TrialVersion.patient_changes entry."""
    kind = change.get("kind")
    if kind == "status":
        return _("The study is now %(new)s (it was %(old)s).") % {
            "new": _status(change["new"]),
            "old": _status(change["old"]),
        }
    if kind == "site_added":
        return _("New site in %(place)s (%(status)s).") % {
            "place": _where(change["site"]),
            "status": _status(change.get("new", "")),
        }
    if kind == "site_removed":
        return _("The site in %(place)s is no longer listed.") % {"place": _where(change["site"])}
    if kind == "site_status":
        if change["new"] == "RECRUITING":
            return _("Site in %(place)s is now recruiting.") % {"place": _where(change["site"])}
        return _("Site in %(place)s is now %(new)s (it was %(old)s).") % {
            "place": _where(change["site"]),
            "new": _status(change["new"]),
            "old": _status(change["old"]),
        }
    if kind == "eligibility":
        return _("Who can take part has changed: read the criteria again.")
    if kind == "ages":
        return _("The age limits have changed.")
    if kind == "sex":
        return _("Who can take part has changed (sex).")
    if kind == "contacts":
        return _("The contacts of the study have changed.")
    return _("The registry record has changed.")


def registry_updates(first_posted, version_update_dates: list) -> tuple[int, bool]:
    """(how many times the registry updated the record, whether that count is complete).

    The registry does not say how many versions a record has; we count the distinct update
    dates (lastUpdatePostDate) of the versions we imported. When the first copy we saw was
    already updated after its first posting, earlier updates are unknown: the count is a
    minimum ("at least N"). `version_update_dates` are in version order, oldest first.
    """
    dates = [d for d in version_update_dates if d]
    if not dates:
        return 0, False
    updates = len({d for d in dates if first_posted is None or d > first_posted})
    complete = first_posted is not None and dates[0] <= first_posted
    return updates, complete
