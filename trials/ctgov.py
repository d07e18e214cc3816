"""Read one ClinicalTrials.gov API v2 study record into plain Python values.

Pure functions, no database: the importer calls `parse_study` for every record and writes what
it returns. Anything a record gets wrong (wrong shape, missing nctId, absurd values) raises
RecordError with a message naming the problem, so the record is skipped whole and never
half-written. See CTGOV-FIELDS notes in docs for the shapes seen in real records.
"""

import datetime
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from trials.countries import country_code
from trials.eligibility import split_eligibility

NCT_RE = re.compile(r"^NCT\d{8}$")
AGE_RE = re.compile(
    r"^\s*(\d+(?:\.\d+)?)\s*(Years?|Months?|Weeks?|Days?|Hours?|Minutes?)\s*$", re.IGNORECASE
)
# Days per unit. A year is 365.25 days so that "18 Years" and a patient's age of 18 convert the
# same way (see age_in_days).
_DAYS_PER_UNIT = {
    "year": 365.25,
    "month": 365.25 / 12,
    "week": 7.0,
    "day": 1.0,
    "hour": 1 / 24,
    "minute": 1 / 1440,
}
MAX_AGE_DAYS = int(200 * 365.25)  # "130 Years" means "no limit" in real records; 200 is absurd
# C0 control characters and DEL, but tab and newline: invisible in a page, refused by XML (one
# "\x02" in a record made every feed listing the trial fail) and by PostgreSQL (NUL).
# Also the bidi embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069): an
# unbalanced right-to-left override in a record reverses the text that follows it on screen,
# page furniture included. Plain direction marks (U+200E/U+200F) are harmless and kept.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")

STATUSES = {
    "ACTIVE_NOT_RECRUITING", "COMPLETED", "ENROLLING_BY_INVITATION", "NOT_YET_RECRUITING",
    "RECRUITING", "SUSPENDED", "TERMINATED", "WITHDRAWN", "AVAILABLE", "NO_LONGER_AVAILABLE",
    "TEMPORARILY_NOT_AVAILABLE", "APPROVED_FOR_MARKETING", "WITHHELD", "UNKNOWN",
}  # fmt: skip
SITE_STATUSES = {
    "ACTIVE_NOT_RECRUITING", "COMPLETED", "ENROLLING_BY_INVITATION", "NOT_YET_RECRUITING",
    "RECRUITING", "SUSPENDED", "TERMINATED", "WITHDRAWN", "AVAILABLE",
}  # fmt: skip
PHASES = {"NA", "EARLY_PHASE1", "PHASE1", "PHASE2", "PHASE3", "PHASE4"}
STUDY_TYPES = {"INTERVENTIONAL", "OBSERVATIONAL", "EXPANDED_ACCESS"}
SEXES = {"ALL", "FEMALE", "MALE"}

# Keys that change with every data release without the study changing: excluded from the hash,
# otherwise each new bulk download would look like 550,000 changes.
VOLATILE_PATHS = (("derivedSection", "miscInfoModule", "versionHolder"),)


class RecordError(ValueError):
    """A record the importer cannot use; the message says why."""


@dataclass
class ParsedSite:
    key: str
    position: int
    facility: str
    city: str
    state: str
    postal_code: str
    country: str
    country_code: str
    latitude: float | None
    longitude: float | None
    status: str
    contacts: list[dict] = field(default_factory=list)
    location_estimated: bool = False

    @property
    def label(self) -> str:
        """Where the site is, as a patient says it ("Rozzano, Italy")."""
        return ", ".join(p for p in (self.facility, self.city, self.country) if p)


@dataclass
class ParsedStudy:
    nct_id: str
    record_hash: str
    fields: dict  # Trial model fields
    sites: list[ParsedSite]
    central_contacts: list[dict]


# --- small readers --------------------------------------------------------------------------


def _obj(value, path: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RecordError(f"{path} should be an object, got {type(value).__name__}")
    return value


def _list(value, path: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise RecordError(f"{path} should be a list, got {type(value).__name__}")
    return value


def _str(value, path: str, *, max_length: int | None = None) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise RecordError(f"{path} should be text, got {type(value).__name__}")
    text = clean_controls(str(value)).strip()
    if max_length is not None and len(text) > max_length:
        raise RecordError(f"{path} is {len(text)} characters long (at most {max_length})")
    return text


def clean_controls(text: str) -> str:
    """Text without control or bidi override characters; CR LF and lone CR become newlines."""
    return _CONTROL_RE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def _strs(value, path: str) -> list[str]:
    return [s for i, v in enumerate(_list(value, path)) if (s := _str(v, f"{path}[{i}]"))]


def _enum(value, path: str, allowed: set[str], *, required: bool = False) -> str:
    text = _str(value, path)
    if not text:
        if required:
            raise RecordError(f"{path} is missing")
        return ""
    if text not in allowed:
        raise RecordError(f"{path} has an unknown value {text!r}")
    return text


def _bool(value, path: str) -> bool | None:
    if value is None:
        return None
    if not isinstance(value, bool):
        raise RecordError(f"{path} should be true or false, got {value!r}")
    return value


def parse_partial_date(value, path: str) -> tuple[datetime.date | None, str]:
    """`yyyy`, `yyyy-MM` or `yyyy-MM-dd` → (first day of the period, precision)."""
    text = _str(value, path)
    if not text:
        return None, ""
    parts = text.split("-")
    try:
        if len(parts) == 3:
            date, precision = datetime.date(int(parts[0]), int(parts[1]), int(parts[2])), "day"
        elif len(parts) == 2:
            date, precision = datetime.date(int(parts[0]), int(parts[1]), 1), "month"
        elif len(parts) == 1:
            date, precision = datetime.date(int(parts[0]), 1, 1), "year"
        else:
            raise ValueError
    except ValueError:
        raise RecordError(f"{path} is not a date: {text!r}") from None
    if not 1900 <= date.year <= 2100:
        raise RecordError(f"{path} is out of range: {text!r}")
    return date, precision


def _date_struct(value, path: str) -> tuple[datetime.date | None, str, str]:
    struct = _obj(value, path)
    date, precision = parse_partial_date(struct.get("date"), f"{path}.date")
    kind = _enum(struct.get("type"), f"{path}.type", {"ACTUAL", "ESTIMATED"})
    return date, precision, kind


def age_in_days(value, path: str = "age") -> int | None:
    """ "18 Years" → 6574; "6 Months" → 182; absent → None (no limit)."""
    text = _str(value, path)
    if not text or text.upper() in ("N/A", "NA"):
        return None
    match = AGE_RE.match(text)
    if not match:
        raise RecordError(f"{path} is not an age: {text!r}")
    unit = match.group(2).lower().rstrip("s")
    days = int(float(match.group(1)) * _DAYS_PER_UNIT[unit])
    if days > MAX_AGE_DAYS:
        raise RecordError(f"{path} is absurd: {text!r}")
    return days


def years_to_days(years: int | float) -> int:
    """A patient's age in whole years, converted like registry ages so the two compare."""
    return int(years * _DAYS_PER_UNIT["year"])


def _coordinate(value, path: str, limit: float) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RecordError(f"{path} should be a number, got {value!r}")
    number = float(value)
    if not -limit <= number <= limit:
        raise RecordError(f"{path} is out of range: {value!r}")
    return number


def record_hash(record: dict) -> str:
    """sha256 of the record in canonical form, ignoring keys that change every release."""
    trimmed = record
    for path in VOLATILE_PATHS:
        trimmed = _without(trimmed, path)
    canonical = json.dumps(trimmed, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _without(data: dict, path: tuple[str, ...]) -> dict:
    head, *rest = path
    if not isinstance(data, dict) or head not in data:
        return data
    copy = dict(data)
    if rest:
        copy[head] = _without(copy[head], tuple(rest))
    else:
        del copy[head]
    return copy


def site_key(facility: str, city: str, state: str, postal_code: str, country: str) -> str:
    """Stable identity of a site across imports (coordinators and inquiries point at sites)."""
    raw = "\x1f".join(p.casefold() for p in (facility, city, state, postal_code, country))
    return hashlib.sha1(raw.encode(), usedforsecurity=False).hexdigest()


# --- the record ---------------------------------------------------------------------------


def parse_study(record) -> ParsedStudy:
    if not isinstance(record, dict):
        raise RecordError(f"a study should be a JSON object, got {type(record).__name__}")
    protocol = record.get("protocolSection")
    if not isinstance(protocol, dict):
        raise RecordError("protocolSection is missing")
    p = "protocolSection"
    ident = _obj(protocol.get("identificationModule"), f"{p}.identificationModule")
    nct_id = _str(ident.get("nctId"), "nctId").upper()
    if not nct_id:
        raise RecordError("nctId is missing")
    if not NCT_RE.match(nct_id):
        raise RecordError(f"nctId is not an NCT number: {nct_id[:40]!r}")
    try:
        return _parse(record, protocol, ident, nct_id)
    except RecordError as exc:
        raise RecordError(f"{nct_id}: {exc}") from None


def _parse(record: dict, protocol: dict, ident: dict, nct_id: str) -> ParsedStudy:
    modules = _modules(record, protocol)
    fields: dict[str, Any] = {
        "nct_id": nct_id,
        **_identification(ident),
        **_status(modules.status, modules.misc),
        **_design(modules.design),
        **_eligibility(modules.eligibility),
        **_arms_interventions(modules.arms),
        **_outcomes(modules.outcomes),
        **_sponsor_collaborators(modules.sponsors),
    }
    contact_fields, sites, central = _contacts_locations(modules.contacts)
    fields |= {
        **contact_fields,
        **_results(record),
        **_description(modules.description),
        **_conditions(modules.conditions),
        **_derived(modules.condition_browse, modules.intervention_browse),
    }
    return ParsedStudy(
        nct_id=nct_id,
        record_hash=record_hash(record),
        fields=fields,
        sites=sites,
        central_contacts=central,
    )


@dataclass(frozen=True)
class _Modules:
    """The modules of a record `_parse` reads (besides identificationModule), each an object."""

    status: dict
    sponsors: dict
    description: dict
    conditions: dict
    design: dict
    arms: dict
    outcomes: dict
    eligibility: dict
    contacts: dict
    misc: dict
    condition_browse: dict
    intervention_browse: dict


def _modules(record: dict, protocol: dict) -> _Modules:
    """Every module checked before any field: a module of the wrong shape is what is named."""
    p = "protocolSection"
    status = _obj(protocol.get("statusModule"), f"{p}.statusModule")
    sponsors = _obj(protocol.get("sponsorCollaboratorsModule"), f"{p}.sponsorCollaboratorsModule")
    description = _obj(protocol.get("descriptionModule"), f"{p}.descriptionModule")
    conditions = _obj(protocol.get("conditionsModule"), f"{p}.conditionsModule")
    design = _obj(protocol.get("designModule"), f"{p}.designModule")
    arms = _obj(protocol.get("armsInterventionsModule"), f"{p}.armsInterventionsModule")
    outcomes = _obj(protocol.get("outcomesModule"), f"{p}.outcomesModule")
    eligibility = _obj(protocol.get("eligibilityModule"), f"{p}.eligibilityModule")
    contacts = _obj(protocol.get("contactsLocationsModule"), f"{p}.contactsLocationsModule")
    derived = _obj(record.get("derivedSection"), "derivedSection")
    return _Modules(
        status=status,
        sponsors=sponsors,
        description=description,
        conditions=conditions,
        design=design,
        arms=arms,
        outcomes=outcomes,
        eligibility=eligibility,
        contacts=contacts,
        misc=_obj(derived.get("miscInfoModule"), "derivedSection.miscInfoModule"),
        condition_browse=_obj(derived.get("conditionBrowseModule"), "conditionBrowseModule"),
        intervention_browse=_obj(
            derived.get("interventionBrowseModule"), "interventionBrowseModule"
        ),
    )


# --- the record, module by module: each returns the Trial fields it holds --------------------


def _identification(ident: dict) -> dict[str, Any]:
    brief_title = _str(ident.get("briefTitle"), "briefTitle")
    if not brief_title:
        raise RecordError("briefTitle is missing")
    # The sponsor's own study id and the other registries' ids (EudraCT, ...): searchable.
    secondary_ids = [
        _str(_obj(ident.get("orgStudyIdInfo") or {}, "orgStudyIdInfo").get("id"), "orgStudyId"),
        *(
            _str(_obj(s, "secondaryIdInfos[]").get("id"), "secondaryIdInfos[].id")
            for s in _list(ident.get("secondaryIdInfos"), "secondaryIdInfos")
        ),
    ]
    return {
        "secondary_ids": [i for i in dict.fromkeys(secondary_ids) if i],
        "brief_title": brief_title,
        "official_title": _str(ident.get("officialTitle"), "officialTitle"),
        "acronym": _str(ident.get("acronym"), "acronym", max_length=100),
    }


def _status(status: dict, misc: dict) -> dict[str, Any]:
    """The record's dates, with the data release that served it (misc), and the status."""
    fields: dict[str, Any] = {}
    for name, struct in (
        ("start_date", "startDateStruct"),
        ("primary_completion_date", "primaryCompletionDateStruct"),
        ("completion_date", "completionDateStruct"),
    ):
        date, precision, kind = _date_struct(status.get(struct), struct)
        fields |= {name: date, f"{name}_precision": precision, f"{name}_type": kind}
    for name, struct in (
        ("first_posted", "studyFirstPostDateStruct"),
        ("results_first_posted", "resultsFirstPostDateStruct"),
        ("last_update_posted", "lastUpdatePostDateStruct"),
    ):
        fields[name], _ = parse_partial_date(
            _obj(status.get(struct), struct).get("date"), f"{struct}.date"
        )
    fields["retrieved_on"], _ = parse_partial_date(misc.get("versionHolder"), "versionHolder")
    return fields | {
        "overall_status": _enum(
            status.get("overallStatus"), "overallStatus", STATUSES, required=True
        ),
        "last_known_status": _enum(status.get("lastKnownStatus"), "lastKnownStatus", STATUSES),
        "why_stopped": _str(status.get("whyStopped"), "whyStopped"),
    }


def _design(design: dict) -> dict[str, Any]:
    phases = _strs(design.get("phases"), "phases")
    for phase in phases:
        if phase not in PHASES:
            raise RecordError(f"phases has an unknown value {phase!r}")
    enrollment = _obj(design.get("enrollmentInfo"), "enrollmentInfo")
    enrollment_count = enrollment.get("count")
    if enrollment_count is not None:
        if isinstance(enrollment_count, bool) or not isinstance(enrollment_count, int):
            raise RecordError(
                f"enrollmentInfo.count should be a whole number: {enrollment_count!r}"
            )
        if not 0 <= enrollment_count <= 100_000_000:
            raise RecordError(f"enrollmentInfo.count is absurd: {enrollment_count}")
    design_info = _obj(design.get("designInfo"), "designInfo")
    masking = _obj(design_info.get("maskingInfo"), "maskingInfo")
    return {
        "phases": phases,
        "enrollment_count": enrollment_count,
        "study_type": _enum(design.get("studyType"), "studyType", STUDY_TYPES),
        "enrollment_type": _str(enrollment.get("type"), "enrollmentInfo.type", max_length=9),
        "primary_purpose": _str(design_info.get("primaryPurpose"), "primaryPurpose", max_length=32),
        "allocation": _str(design_info.get("allocation"), "allocation", max_length=16),
        "masking": _str(masking.get("masking"), "masking", max_length=16),
    }


def _eligibility(eligibility: dict) -> dict[str, Any]:
    min_age_text = _str(eligibility.get("minimumAge"), "minimumAge")
    max_age_text = _str(eligibility.get("maximumAge"), "maximumAge")
    min_age = age_in_days(min_age_text, "minimumAge")
    max_age = age_in_days(max_age_text, "maximumAge")
    if min_age is not None and max_age is not None and min_age > max_age:
        raise RecordError(f"minimumAge {min_age_text!r} is above maximumAge {max_age_text!r}")
    criteria = _str(eligibility.get("eligibilityCriteria"), "eligibilityCriteria")
    inclusion, exclusion = split_eligibility(criteria)
    return {
        "eligibility_criteria": criteria,
        "inclusion_criteria": inclusion,
        "exclusion_criteria": exclusion,
        "minimum_age": min_age_text,
        "maximum_age": max_age_text,
        "minimum_age_days": min_age,
        "maximum_age_days": max_age,
        # Absent stays absent ("not stated" on the page): never a default of "ALL".
        "sex": _enum(eligibility.get("sex"), "sex", SEXES),
        "gender_description": _str(eligibility.get("genderDescription"), "genderDescription"),
        "healthy_volunteers": _bool(eligibility.get("healthyVolunteers"), "healthyVolunteers"),
        "std_ages": _strs(eligibility.get("stdAges"), "stdAges"),
    }


def _arms_interventions(arms: dict) -> dict[str, Any]:
    interventions = []
    for i, item in enumerate(_list(arms.get("interventions"), "interventions")):
        item = _obj(item, f"interventions[{i}]")
        interventions.append(
            {
                "type": _str(item.get("type"), f"interventions[{i}].type"),
                "name": _str(item.get("name"), f"interventions[{i}].name"),
                "description": _str(item.get("description"), f"interventions[{i}].description"),
                "other_names": _strs(item.get("otherNames"), f"interventions[{i}].otherNames"),
            }
        )
    arm_groups = []
    for i, item in enumerate(_list(arms.get("armGroups"), "armGroups")):
        item = _obj(item, f"armGroups[{i}]")
        arm_groups.append(
            {
                "label": _str(item.get("label"), f"armGroups[{i}].label"),
                "type": _str(item.get("type"), f"armGroups[{i}].type"),
                "description": _str(item.get("description"), f"armGroups[{i}].description"),
                "interventions": _strs(
                    item.get("interventionNames"), f"armGroups[{i}].interventionNames"
                ),
            }
        )
    return {"interventions": interventions, "arm_groups": arm_groups}


def _outcomes(outcomes: dict) -> dict[str, Any]:
    return {
        "primary_outcomes": _outcome_list(outcomes.get("primaryOutcomes"), "primaryOutcomes"),
        "secondary_outcomes": _outcome_list(outcomes.get("secondaryOutcomes"), "secondaryOutcomes"),
    }


def _sponsor_collaborators(sponsors: dict) -> dict[str, Any]:
    lead = _obj(sponsors.get("leadSponsor"), "leadSponsor")
    collaborators = [
        _str(_obj(c, "collaborators[]").get("name"), "collaborators[].name")
        for c in _list(sponsors.get("collaborators"), "collaborators")
    ]
    return {
        "lead_sponsor": _str(lead.get("name"), "leadSponsor.name", max_length=300),
        "lead_sponsor_class": _str(lead.get("class"), "leadSponsor.class", max_length=16),
        "collaborators": [c for c in collaborators if c],
    }


def _contacts_locations(contacts: dict) -> tuple[dict[str, Any], list[ParsedSite], list[dict]]:
    """(the Trial fields: officials and the sites' countries, the sites, the central contacts)"""
    officials = []
    for i, item in enumerate(_list(contacts.get("overallOfficials"), "overallOfficials")):
        item = _obj(item, f"overallOfficials[{i}]")
        officials.append(
            {
                "name": _str(item.get("name"), f"overallOfficials[{i}].name"),
                "affiliation": _str(item.get("affiliation"), f"overallOfficials[{i}].affiliation"),
                "role": _str(item.get("role"), f"overallOfficials[{i}].role"),
            }
        )
    sites = _parse_sites(contacts)
    central = [
        _parse_contact(c, f"centralContacts[{i}]", i)
        for i, c in enumerate(_list(contacts.get("centralContacts"), "centralContacts"))
    ]
    fields = {
        "officials": officials,
        "country_codes": sorted({s.country_code for s in sites if s.country_code}),
    }
    return fields, sites, central


def _description(description: dict) -> dict[str, Any]:
    return {
        "brief_summary": _str(description.get("briefSummary"), "briefSummary"),
        "detailed_description": _str(description.get("detailedDescription"), "detailedDescription"),
    }


def _conditions(conditions: dict) -> dict[str, Any]:
    return {
        "conditions": _strs(conditions.get("conditions"), "conditions"),
        "keywords": _strs(conditions.get("keywords"), "keywords"),
    }


def _results(record: dict) -> dict[str, Any]:
    return {"has_results": bool(_bool(record.get("hasResults"), "hasResults"))}


def _derived(condition_browse: dict, intervention_browse: dict) -> dict[str, Any]:
    """The registry's MeSH indexing of the conditions and interventions."""
    return {
        "condition_meshes": _mesh_terms(condition_browse.get("meshes"), "conditionBrowse.meshes"),
        "condition_ancestors": _mesh_terms(
            condition_browse.get("ancestors"), "conditionBrowse.ancestors"
        ),
        "intervention_meshes": _mesh_terms(
            intervention_browse.get("meshes"), "interventionBrowse.meshes"
        ),
    }


def _outcome_list(value, path: str) -> list[dict]:
    """[{"measure", "time_frame", "description"}] in record order, as registered."""
    items = []
    for i, item in enumerate(_list(value, path)):
        item = _obj(item, f"{path}[{i}]")
        items.append(
            {
                "measure": _str(item.get("measure"), f"{path}[{i}].measure"),
                "time_frame": _str(item.get("timeFrame"), f"{path}[{i}].timeFrame"),
                "description": _str(item.get("description"), f"{path}[{i}].description"),
            }
        )
    return items


def _mesh_terms(value, path: str) -> list[str]:
    terms = []
    for i, item in enumerate(_list(value, path)):
        term = _str(_obj(item, f"{path}[{i}]").get("term"), f"{path}[{i}].term")
        if term and term not in terms:
            terms.append(term)
    return terms


def _parse_contact(value, path: str, position: int) -> dict:
    item = _obj(value, path)
    return {
        "position": position,
        "name": _str(item.get("name"), f"{path}.name")[:300],
        "role": _str(item.get("role"), f"{path}.role", max_length=32),
        "phone": _str(item.get("phone"), f"{path}.phone")[:100],
        "phone_ext": _str(item.get("phoneExt"), f"{path}.phoneExt")[:40],
        "email": _str(item.get("email"), f"{path}.email")[:254],
    }


def _parse_sites(contacts: dict) -> list[ParsedSite]:
    sites = []
    seen: dict[str, int] = {}
    for i, value in enumerate(_list(contacts.get("locations"), "locations")):
        path = f"locations[{i}]"
        item = _obj(value, path)
        geo = _obj(item.get("geoPoint"), f"{path}.geoPoint")
        lat = _coordinate(geo.get("lat"), f"{path}.geoPoint.lat", 90)
        lon = _coordinate(geo.get("lon"), f"{path}.geoPoint.lon", 180)
        if (lat is None) != (lon is None):
            raise RecordError(f"{path}.geoPoint needs both lat and lon")
        facility = _str(item.get("facility"), f"{path}.facility")[:500]
        city = _str(item.get("city"), f"{path}.city")[:200]
        state = _str(item.get("state"), f"{path}.state")[:200]
        postal_code = _str(item.get("zip"), f"{path}.zip")[:40]
        country = _str(item.get("country"), f"{path}.country")[:100]
        key = site_key(facility, city, state, postal_code, country)
        # Real records list the same anonymous "Research Site" twice in one city: number them
        # in record order so each keeps its identity.
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:
            key = site_key(facility, city, state, postal_code, f"{country}#{seen[key]}")
        sites.append(
            ParsedSite(
                key=key,
                position=i,
                facility=facility,
                city=city,
                state=state,
                postal_code=postal_code,
                country=country,
                country_code=country_code(country),
                latitude=lat,
                longitude=lon,
                status=_enum(item.get("status"), f"{path}.status", SITE_STATUSES),
                contacts=[
                    _parse_contact(c, f"{path}.contacts[{j}]", j)
                    for j, c in enumerate(_list(item.get("contacts"), f"{path}.contacts"))
                ],
            )
        )
    return sites


# --- what changed ---------------------------------------------------------------------------


def changed_paths(old, new, prefix: str = "") -> list[str]:
    """Dotted paths whose values differ; lists compare whole (a site list changed, not site 17)."""
    if isinstance(old, dict) and isinstance(new, dict):
        paths = []
        for key in sorted(old.keys() | new.keys()):
            path = f"{prefix}.{key}" if prefix else key
            if tuple(path.split(".")) in VOLATILE_PATHS:
                continue
            if key not in old or key not in new:
                paths.append(path)
            elif old[key] != new[key]:
                paths.extend(changed_paths(old[key], new[key], path))
        return paths
    return [] if old == new else [prefix]


def patient_changes(old: ParsedStudy, new: ParsedStudy) -> list[dict]:
    """The changes a patient cares about, as data (the alert email words them)."""
    changes = []
    of, nf = old.fields, new.fields
    if of["overall_status"] != nf["overall_status"]:
        changes.append({"kind": "status", "old": of["overall_status"], "new": nf["overall_status"]})
    old_sites = {s.key: s for s in old.sites}
    new_sites = {s.key: s for s in new.sites}
    for key, site in new_sites.items():
        place = _site_place(site)
        if key not in old_sites:
            changes.append({"kind": "site_added", "site": place, "new": site.status})
        elif old_sites[key].status != site.status:
            changes.append(
                {
                    "kind": "site_status",
                    "site": place,
                    "old": old_sites[key].status,
                    "new": site.status,
                }
            )
    for key, site in old_sites.items():
        if key not in new_sites:
            changes.append({"kind": "site_removed", "site": _site_place(site)})
    if of["eligibility_criteria"] != nf["eligibility_criteria"]:
        changes.append({"kind": "eligibility"})
    if (of["minimum_age"], of["maximum_age"]) != (nf["minimum_age"], nf["maximum_age"]):
        changes.append(
            {
                "kind": "ages",
                "old": [of["minimum_age"], of["maximum_age"]],
                "new": [nf["minimum_age"], nf["maximum_age"]],
            }
        )
    if of["sex"] != nf["sex"]:
        changes.append({"kind": "sex", "old": of["sex"], "new": nf["sex"]})
    if _contact_signature(old) != _contact_signature(new):
        changes.append({"kind": "contacts"})
    return changes


def _site_place(site: ParsedSite) -> dict:
    return {"key": site.key, "facility": site.facility, "city": site.city, "country": site.country}


def _contact_signature(study: ParsedStudy) -> list:
    def strip(contact):
        return {k: v for k, v in contact.items() if k != "position"}

    return [
        [strip(c) for c in study.central_contacts],
        sorted(((s.key, [strip(c) for c in s.contacts]) for s in study.sites), key=lambda t: t[0]),
    ]
