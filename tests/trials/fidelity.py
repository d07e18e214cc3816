"""The fidelity harness: every field the portal shows, compared with the registry record it came
from, on the rendered trial page (text extracted, as a reader sees it) and in the API.

Each check gives one verdict per record and per place (page, api):
- match:   the source has the field and it is shown as registered;
- differ:  it is shown otherwise, or something is shown that the source does not have
           (an invented default);
- missing: the source has it and it is not shown;
- absent:  the source does not have it and nothing is shown, or "not stated" (correct).
Texts are compared as words (case, spacing and Markdown syntax aside); lists, dates, statuses
and counts exactly. The expected texts are computed from the JSON here, independently of the
portal's own parsing (only Django's date formatting is shared).
"""

import re
from collections import Counter
from html.parser import HTMLParser

from django.utils import dateformat

MATCH, DIFFER, MISSING, ABSENT = "match", "differ", "missing", "absent"
VERDICTS = (MATCH, DIFFER, MISSING, ABSENT)

_WORD = re.compile(r"\w+")
_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_BIDI = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
# Markdown link targets are attributes on a page, not text: "[label](https://...)" → "label".
_LINK = re.compile(r"\[([^\]]*)\]\((?:[^()\s]|\([^()]*\))+\)")
_AUTOLINK = re.compile(r"<(https?://[^>\s]+)>")
# What the eligibility split may drop: its plain section headings ("1) Inclusion Criteria:").
HEADING_WORDS = {"inclusion", "exclusion", "criteria", "criterion", "criteriar"}
PLAIN_HEADING = re.compile(
    r"^\W*(?:\d{1,2}[.)]\s*)?(?:key\s+|main\s+)?(?:inclusion|exclusion)\s+criteri\w*\W*$",
    re.I | re.M,
)

STATUS = {
    "RECRUITING": "Recruiting", "NOT_YET_RECRUITING": "Not yet recruiting",
    "ENROLLING_BY_INVITATION": "Enrolling by invitation",
    "ACTIVE_NOT_RECRUITING": "Active, not recruiting", "SUSPENDED": "Suspended",
    "TERMINATED": "Terminated", "COMPLETED": "Completed", "WITHDRAWN": "Withdrawn",
    "UNKNOWN": "Unknown status", "AVAILABLE": "Available",
}  # fmt: skip
PHASE = {
    "NA": "Not applicable", "EARLY_PHASE1": "Early phase 1", "PHASE1": "Phase 1",
    "PHASE2": "Phase 2", "PHASE3": "Phase 3", "PHASE4": "Phase 4",
}  # fmt: skip
STUDY_TYPE = {
    "INTERVENTIONAL": "Interventional", "OBSERVATIONAL": "Observational",
    "EXPANDED_ACCESS": "Expanded access",
}  # fmt: skip
ROLE = {
    "PRINCIPAL_INVESTIGATOR": "Principal investigator", "SUB_INVESTIGATOR": "Sub-investigator",
    "STUDY_CHAIR": "Study chair", "STUDY_DIRECTOR": "Study director",
}  # fmt: skip


# --- reading the page ----------------------------------------------------------------------


class _Text(HTMLParser):
    """Visible text of an HTML fragment, with ordered-list numbers as a browser draws them."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.lists: list[list] = []  # [kind, next number] per open list
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "style", "template"):
            self.skip += 1
        elif tag == "ol":
            self.lists.append([attrs.get("type") or "1", int(attrs.get("start") or 1)])
        elif tag == "ul":
            self.lists.append(["ul", 0])
        elif tag == "li" and self.lists and self.lists[-1][0] != "ul":
            if (attrs.get("value") or "").isdigit():
                self.lists[-1][1] = int(attrs["value"])
            kind, number = self.lists[-1]
            self.lists[-1][1] += 1
            marker = chr(ord(kind) + number - 1) if kind in ("a", "A") else str(number)
            self.parts.append(f" {marker}. ")
        if tag in ("p", "br", "li", "div", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6", "tr"):
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in ("script", "style", "template"):
            self.skip -= 1
        elif tag in ("ol", "ul") and self.lists:
            self.lists.pop()
        if tag in ("p", "li", "div", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6"):
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def text_of(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return norm("".join(parser.parts))


def norm(text) -> str:
    return re.sub(r"\s+", " ", _BIDI.sub("", str(text or ""))).strip()


def section(html: str, labelled_by: str) -> str:
    """The HTML of the page section labelled by the heading id (sections are not nested)."""
    match = re.search(
        rf'<section[^>]*aria-labelledby="{labelled_by}"[^>]*>(.*?)</section>', html, re.S
    )
    return match.group(1) if match else ""


def inner(html: str, start: int) -> str:
    """The inner HTML of the element whose opening tag starts at `start` (same-name tags are
    counted, so registry lists nested inside an item do not end it early)."""
    name = re.match(r"<(\w+)", html[start:]).group(1)
    opened = html.index(">", start) + 1
    depth = 1
    for tag in re.finditer(rf"<(/?){name}\b[^>]*>", html[opened:]):
        depth += -1 if tag.group(1) else 1
        if depth == 0:
            return html[opened : opened + tag.start()]
    return html[opened:]


def items(html: str, container: str, item: str) -> list[str]:
    """The inner HTML of each element opening with `item` inside the one opening with
    `container`."""
    start = html.find(container)
    if start < 0:
        return []
    body = inner(html, start)
    found, position = [], body.find(item)
    while position >= 0:
        content = inner(body, position)
        found.append(content)
        position = body.find(item, position + len(content))
    return found


def site_items(html: str) -> list[str]:
    return [text_of(m) for m in re.findall(r'<li class="site[^"]*">(.*?)</li>', html, re.S)]


# --- what the source says ------------------------------------------------------------------


def plain(text: str) -> str:
    """Registry Markdown as a reader sees it: escapes resolved, link targets and emphasis
    markers dropped."""
    text = _AUTOLINK.sub(r"\1", _LINK.sub(r"\1", _BIDI.sub("", text or "")))
    return norm(_ESCAPE.sub(r"\1", text).replace("**", ""))


def words(text: str) -> Counter:
    """The words of a registry text as the page should show them: emails and numbers the text
    calls phone numbers are masked there, by policy (trials.masking.mask_prose)."""
    from trials.masking import mask_prose

    return Counter(w.lower() for w in _WORD.findall(plain(mask_prose(text)).replace("_", " ")))


def words_shown(expected: str, shown: str, ignore=frozenset()) -> bool:
    """Every word of the source text (but `ignore`) is on the page, as often."""
    want = words(expected)
    for word in ignore:
        want.pop(word, None)
    return not (want - words(shown))


def registry_date(value: str) -> str:
    """ "2024" / "2024-03" / "2024-03-05" → as the English page writes it."""
    import datetime

    parts = [int(p) for p in value.split("-")]
    if len(parts) == 1:
        return str(parts[0])
    if len(parts) == 2:
        return dateformat.format(datetime.date(parts[0], parts[1], 1), "F Y")
    return dateformat.format(datetime.date(*parts), "N j, Y")


# --- the comparison ------------------------------------------------------------------------


class Table:
    """Verdict counts per field and place."""

    def __init__(self):
        self.counts: dict[str, dict[str, Counter]] = {}
        self.examples: dict[tuple[str, str, str], list[str]] = {}

    def add(self, field: str, place: str, verdict: str, nct_id: str):
        self.counts.setdefault(field, {"page": Counter(), "api": Counter()})[place][verdict] += 1
        if verdict in (DIFFER, MISSING):
            self.examples.setdefault((field, place, verdict), []).append(nct_id)

    def regressions(self, baseline: dict) -> list[str]:
        out = []
        for field, places in self.counts.items():
            for place, counter in places.items():
                for verdict in (DIFFER, MISSING):
                    allowed = baseline.get(field, {}).get(place, {}).get(verdict, 0)
                    if counter[verdict] > allowed:
                        examples = self.examples.get((field, place, verdict), [])[:5]
                        out.append(
                            f"{field} ({place}): {counter[verdict]} {verdict}, at most {allowed}"
                            f" allowed; e.g. {', '.join(examples)}"
                        )
        return out

    def as_baseline(self) -> dict:
        return {
            field: {
                place: {v: c[v] for v in (DIFFER, MISSING) if c[v]}
                for place, c in places.items()
                if c[DIFFER] or c[MISSING]
            }
            for field, places in sorted(self.counts.items())
            if any(c[DIFFER] or c[MISSING] for c in places.values())
        }

    def render(self) -> str:
        head = f"{'field':<26}" + "".join(
            f"{place + ' ' + v:>14}" for place in ("page", "api") for v in VERDICTS
        )
        lines = [head, "-" * len(head)]
        for field, places in self.counts.items():
            cells = "".join(
                f"{places[place][v]:>14}" for place in ("page", "api") for v in VERDICTS
            )
            lines.append(f"{field:<26}{cells}")
        return "\n".join(lines)


def verdict(has_source: bool, shown: bool, correct: bool) -> str:
    """has_source: the record has the field; shown: the portal shows something for it;
    correct: what it shows is the source's (when has_source) / nothing invented (when not)."""
    if has_source:
        if correct:
            return MATCH
        return DIFFER if shown else MISSING
    return ABSENT if correct else DIFFER


def paired(expected: list, shown: list[str], api_items: list):
    """Each item of a list field with what stands at its place on the page (as text) and in
    the API ("" and {} where either lists fewer)."""
    for i, item in enumerate(expected):
        yield (
            item,
            text_of(shown[i]) if i < len(shown) else "",
            api_items[i] if i < len(api_items) else {},
        )


def list_verdicts(expected: list, shown: list, api_items: list, page_ok: bool, api_ok: bool):
    """(page, api) verdicts of a list field: as many items as the source, each of them right."""
    return (
        verdict(bool(expected), bool(shown), len(shown) == len(expected) and page_ok),
        verdict(bool(expected), bool(api_items), len(api_items) == len(expected) and api_ok),
    )


def compare(record: dict, page_html: str, api: dict, table: Table) -> None:
    ps = record["protocolSection"]
    nct = ps["identificationModule"]["nctId"]
    ident = ps["identificationModule"]
    status = ps.get("statusModule", {})
    design = ps.get("designModule", {})
    conds = ps.get("conditionsModule", {})
    arms_mod = ps.get("armsInterventionsModule", {})
    outcomes = ps.get("outcomesModule", {})
    elig = ps.get("eligibilityModule", {})
    sponsors = ps.get("sponsorCollaboratorsModule", {})
    contacts = ps.get("contactsLocationsModule", {})
    desc = ps.get("descriptionModule", {})

    main = page_html[page_html.find('<article class="container py-4 trial-page"') :]
    main = main[: main.find('<aside class="col-12 col-lg-4"')]
    header_html = main[: main.find("</header>")]
    header = text_of(header_html)
    page = text_of(main)
    details = text_of(section(main, "details-heading"))
    eligibility_html = section(main, "eligibility-heading")
    eligibility = text_of(eligibility_html)
    sites_html = section(main, "sites-heading")

    def add(field, page_verdict, api_verdict):
        table.add(field, "page", page_verdict, nct)
        if api_verdict is not None:
            table.add(field, "api", api_verdict, nct)

    # Titles
    for field, key, api_key in (
        ("brief_title", "briefTitle", "brief_title"),
        ("official_title", "officialTitle", "official_title"),
    ):
        value = plain(ident.get(key, ""))
        add(
            field,
            verdict(bool(value), True, not value or value in header),
            verdict(bool(value), api.get(api_key) is not None, (api.get(api_key) or "") == value),
        )
    acronym = norm(ident.get("acronym", ""))
    add("acronym", verdict(bool(acronym), True, not acronym or acronym in header), None)

    # Statuses
    overall = status.get("overallStatus", "")
    add(
        "overall_status",
        verdict(True, True, STATUS.get(overall, overall) in header),
        verdict(True, True, api.get("status") == overall),
    )
    last_known = status.get("lastKnownStatus", "")
    shown = "Last known status:" in header
    add(
        "last_known_status",
        verdict(
            bool(last_known),
            shown,
            f"Last known status: {STATUS.get(last_known)}." in header if last_known else not shown,
        ),
        verdict(bool(last_known), bool(api.get("last_known_status")),
                (api.get("last_known_status") or "") == last_known),
    )  # fmt: skip
    why = plain(status.get("whyStopped", ""))
    add(
        "why_stopped",
        verdict(bool(why), "Why the study stopped" in header, not why or why in header),
        verdict(bool(why), api.get("why_stopped") is not None,
                plain(api.get("why_stopped") or "") == why),
    )  # fmt: skip

    # Design
    phases = design.get("phases", [])
    add(
        "phases",
        verdict(bool(phases), True, all(PHASE[p] in header for p in phases)),
        verdict(bool(phases), bool(api.get("phases")), api.get("phases") == phases),
    )
    study_type = design.get("studyType", "")
    add(
        "study_type",
        verdict(bool(study_type), True, not study_type or STUDY_TYPE[study_type] in header),
        verdict(bool(study_type), api.get("study_type") is not None,
                (api.get("study_type") or "") == study_type),
    )  # fmt: skip
    enrollment = design.get("enrollmentInfo", {})
    count, kind = enrollment.get("count"), enrollment.get("type", "")
    label = {"ESTIMATED": " (planned)", "ACTUAL": " (actual number enrolled)"}.get(kind, "")
    shown = "Participants" in details
    api_enrollment = (api.get("design") or {}).get("enrollment")
    add(
        "enrollment",
        verdict(count is not None, shown,
                f"Participants {count}{label}" in details if count is not None else not shown),
        verdict(count is not None, api_enrollment is not None,
                api_enrollment == ({"count": count, "type": kind or None}
                                   if count is not None else None)),
    )  # fmt: skip

    # Conditions and keywords
    for field, values, api_key in (
        ("conditions", [plain(c) for c in conds.get("conditions", [])], "conditions"),
        ("keywords", [plain(k) for k in conds.get("keywords", [])], "keywords"),
    ):
        add(
            field,
            verdict(bool(values), True, all(v in details for v in values)),
            verdict(bool(values), bool(api.get(api_key)), api.get(api_key) == values),
        )

    # Interventions
    interventions = arms_mod.get("interventions", [])
    api_interventions = api.get("interventions") or []
    lists = items(main, '<ul class="intervention-list"', '<li class="intervention mb-1">')
    ok = api_ok = True
    for item, shown_item, got in paired(interventions, lists, api_interventions):
        name, other = plain(item.get("name", "")), [plain(n) for n in item.get("otherNames", [])]
        description = item.get("description", "")
        ok &= name in shown_item and all(o in shown_item for o in other)
        if description and plain(description) != name:
            ok &= words_shown(description, shown_item)
        if item.get("type"):
            ok &= "(" in shown_item
        api_ok &= (
            got.get("name") == name
            and got.get("other_names") == other
            and (got.get("type") or "") == item.get("type", "")
            and plain(got.get("description") or "") == plain(description)
        )
    add("interventions", *list_verdicts(interventions, lists, api_interventions, ok, api_ok))

    # Arms
    arms = arms_mod.get("armGroups", [])
    api_arms = api.get("arms") or []
    blocks = items(main, '<ul class="list-unstyled arm-list">', '<li class="arm card card-body')
    ok = api_ok = True
    for arm, shown_arm, got in paired(arms, blocks, api_arms):
        ok &= plain(arm.get("label", "")) in shown_arm
        ok &= words_shown(arm.get("description", ""), shown_arm)
        ok &= all(plain(n) in shown_arm for n in arm.get("interventionNames", []))
        if arm.get("type"):
            ok &= bool(re.search(r"\n|\w", shown_arm))
        api_ok &= (
            got.get("label") == plain(arm.get("label", ""))
            and (got.get("type") or "") == arm.get("type", "")
            and plain(got.get("description") or "") == plain(arm.get("description", ""))
            and got.get("interventions") == [plain(n) for n in arm.get("interventionNames", [])]
        )
    add("arms", *list_verdicts(arms, blocks, api_arms, ok, api_ok))

    # Outcomes
    for field, key, kind in (
        ("primary_outcomes", "primaryOutcomes", "primary"),
        ("secondary_outcomes", "secondaryOutcomes", "secondary"),
    ):
        expected = outcomes.get(key, [])
        found = items(
            main, f'<ol class="outcome-list {kind}-outcomes">', '<li class="outcome mb-2">'
        )
        api_items = (api.get("outcomes") or {}).get(kind) or []
        ok = api_ok = True
        for outcome, shown_outcome, got in paired(expected, found, api_items):
            ok &= plain(outcome.get("measure", "")) in shown_outcome
            if outcome.get("timeFrame"):
                ok &= f"When: {plain(outcome['timeFrame'])}" in shown_outcome
            ok &= words_shown(outcome.get("description", ""), shown_outcome)
            api_ok &= (
                got.get("measure") == plain(outcome.get("measure", ""))
                and plain(got.get("time_frame") or "") == plain(outcome.get("timeFrame", ""))
                and plain(got.get("description") or "") == plain(outcome.get("description", ""))
            )
        add(field, *list_verdicts(expected, found, api_items, ok, api_ok))

    # Sponsor, collaborators, officials
    lead = plain(sponsors.get("leadSponsor", {}).get("name", ""))
    add(
        "lead_sponsor",
        verdict(bool(lead), "Sponsor" in details, not lead or f"Sponsor {lead}" in details),
        verdict(bool(lead), api.get("lead_sponsor") is not None,
                (api.get("lead_sponsor") or "") == lead),
    )  # fmt: skip
    collaborators = [plain(c.get("name", "")) for c in sponsors.get("collaborators", [])]
    collaborators = [c for c in collaborators if c]
    add(
        "collaborators",
        verdict(bool(collaborators), "Collaborators" in details,
                f"Collaborators {'; '.join(collaborators)}" in details if collaborators
                else "Collaborators" not in details),
        verdict(bool(collaborators), bool(api.get("collaborators")),
                api.get("collaborators") == collaborators),
    )  # fmt: skip
    from trials.masking import mask_free_text

    officials = contacts.get("overallOfficials", [])
    shown_officials = re.findall(r'<dd class="col-sm-8 study-official">(.*?)</dd>', main, re.S)
    api_officials = api.get("officials") or []
    ok = api_ok = True
    for official, shown_official, got in paired(officials, shown_officials, api_officials):
        # Registry names sometimes hold phone numbers: those are masked, on purpose.
        name = mask_free_text(plain(official.get("name", "")))
        affiliation = mask_free_text(plain(official.get("affiliation", "")))
        ok &= shown_official == (f"{name}, {affiliation}" if affiliation else name)
        ok &= ROLE.get(official.get("role", ""), "") in details
        api_ok &= (
            got.get("name") == name
            and (got.get("affiliation") or "") == affiliation
            and (got.get("role") or "") == official.get("role", "")
        )
    add("officials", *list_verdicts(officials, shown_officials, api_officials, ok, api_ok))

    # Dates
    api_dates = api.get("dates") or {}
    for field, key, css, api_key in (
        ("start_date", "startDateStruct", "study-start", "start"),
        ("primary_completion_date", "primaryCompletionDateStruct", "study-primary-completion",
         "primary_completion"),
        ("completion_date", "completionDateStruct", "study-completion", "completion"),
    ):  # fmt: skip
        struct = status.get(key) or {}
        value, kind = struct.get("date", ""), struct.get("type", "")
        found = re.search(rf'<dd class="col-sm-8 {css}">(.*?)</dd>', main, re.S)
        shown_date = text_of(found.group(1)) if found else ""
        expected = registry_date(value) + (f" ({kind.lower()})" if kind else "") if value else ""
        correct = shown_date == expected
        if key == "primaryCompletionDateStruct" and found:
            label = text_of(main[: found.start()].rsplit("<dt", 1)[-1])
            correct &= ("Main results expected" in label) == (kind == "ESTIMATED")
        add(
            field,
            verdict(bool(value), bool(found), correct),
            verdict(bool(value), api_dates.get(api_key) is not None,
                    api_dates.get(api_key) == ({"date": value, "type": kind or None}
                                               if value else None)),
        )  # fmt: skip
    for field, key, phrase, api_key in (
        ("first_posted", "studyFirstPostDateStruct", "First posted on the registry",
         "first_posted"),
        ("last_update_posted", "lastUpdatePostDateStruct", "Last updated on the registry",
         "last_update_posted"),
        ("results_first_posted", "resultsFirstPostDateStruct", "Results first posted",
         "results_first_posted"),
    ):  # fmt: skip
        value = (status.get(key) or {}).get("date", "")
        shown = phrase in page
        correct = f"{phrase} {registry_date(value)}" in page if value else not shown
        add(
            field,
            verdict(bool(value), shown, correct),
            verdict(bool(value), api_dates.get(api_key) is not None,
                    (api_dates.get(api_key) or "") == value),
        )  # fmt: skip

    # Eligibility
    api_elig = api.get("eligibility") or {}
    for field, key in (("minimum_age", "minimumAge"), ("maximum_age", "maximumAge")):
        value = norm(elig.get(key, ""))
        number = value.split(" ")[0] if value else ""
        # "130 Years" means no upper limit: the page says "and older".
        no_limit = key == "maximumAge" and number.isdigit() and int(number) >= 100
        ages = re.search(r"<dt[^>]*>Ages</dt><dd[^>]*>(.*?)</dd>", eligibility_html)
        ages = text_of(ages.group(1)) if ages else ""
        shown_ok = (
            (f"{number} " in f"{ages} " or no_limit) if value
            else (("and older" in ages or "All ages" in ages) if key == "maximumAge"
                  else ("up to" in ages or "All ages" in ages))
        )  # fmt: skip
        add(
            field,
            verdict(bool(value), bool(ages), shown_ok),
            verdict(bool(value), api_elig.get(field) is not None,
                    (api_elig.get(field) or "") == value),
        )  # fmt: skip
    sex = elig.get("sex", "")
    sex_row = re.search(r"<dt[^>]*>Sex</dt><dd[^>]*>(.*?)</dd>", eligibility_html)
    sex_row = text_of(sex_row.group(1)) if sex_row else ""
    expected_sex = {"ALL": "All", "FEMALE": "Female", "MALE": "Male", "": "Not stated"}[sex]
    badge_ok = ("All sexes" in header) == (sex == "ALL")
    add(
        "sex",
        verdict(bool(sex), True, sex_row.startswith(expected_sex) and badge_ok),
        verdict(bool(sex), api_elig.get("sex") is not None, (api_elig.get("sex") or "") == sex),
    )
    healthy = elig.get("healthyVolunteers")
    row = re.search(r"<dt[^>]*>Healthy volunteers</dt><dd[^>]*>(.*?)</dd>", eligibility_html)
    row = text_of(row.group(1)) if row else ""
    expected_row = {True: "Yes", False: "No", None: "Not stated"}[healthy]
    add(
        "healthy_volunteers",
        verdict(healthy is not None, bool(row), row == expected_row),
        verdict(healthy is not None, api_elig.get("healthy_volunteers") is not None,
                api_elig.get("healthy_volunteers") == healthy),
    )  # fmt: skip
    criteria = elig.get("eligibilityCriteria", "")
    add(
        "eligibility_criteria",
        verdict(bool(criteria.strip()), True,
                words_shown(PLAIN_HEADING.sub("", criteria), eligibility, HEADING_WORDS)
                if criteria.strip()
                else "gives no eligibility criteria" in eligibility),
        verdict(bool(criteria.strip()), bool(api_elig.get("criteria_text")),
                norm(api_elig.get("criteria_text")) == norm(criteria)),
    )  # fmt: skip

    # Descriptions
    for field, key, heading in (
        ("brief_summary", "briefSummary", "overview-heading"),
        ("detailed_description", "detailedDescription", "overview-heading"),
    ):
        value = desc.get(key, "")
        shown = text_of(section(main, heading))
        add(field, verdict(bool(value.strip()), True, words_shown(value, shown)), None)
    summary = desc.get("briefSummary", "")
    add(
        "brief_summary_api",
        verdict(bool(summary), True, True),
        verdict(bool(summary), bool(api.get("summary")), norm(api.get("summary")) == norm(summary)),
    )

    # Sites and their statuses
    locations = contacts.get("locations", [])
    shown_sites = site_items(sites_html)
    expected_sites = Counter(
        (plain(loc.get("facility", "")) or "Study site", STATUS.get(loc.get("status", ""),
         "Status not given"))
        for loc in locations
    )  # fmt: skip
    got_sites = Counter()
    for text in shown_sites:
        for facility, label in expected_sites:
            if text.startswith(f"{facility} {label}"):
                got_sites[(facility, label)] += 1
                break
    recruiting = sum(loc.get("status") == "RECRUITING" for loc in locations)
    not_yet = sum(loc.get("status") == "NOT_YET_RECRUITING" for loc in locations)
    counts = text_of(re.search(r'<h3 class="h6 site-counts">(.*?)</h3>', sites_html).group(1))
    counts_ok = counts.startswith(f"{recruiting} recruiting site") and (
        (f"· {not_yet} not yet recruiting" in counts) == bool(not_yet)
    )
    api_sites = api.get("sites") or []
    add(
        "sites",
        verdict(bool(locations), bool(shown_sites),
                got_sites == expected_sites and len(shown_sites) == len(locations) and counts_ok),
        verdict(bool(locations), bool(api_sites),
                Counter((s["status"] or "") for s in api_sites)
                == Counter(loc.get("status", "") for loc in locations)),
    )  # fmt: skip

    # Contact presence: which channels exist, never the details
    central = contacts.get("centralContacts", [])
    site_contacts = sum(bool(loc.get("contacts")) for loc in locations)
    channels = [
        text_of(c) for c in items(main, '<ul class="list-unstyled small central-contacts">', "<li>")
    ]
    central_ok = len(channels) == len(central) and all(
        ("Phone:" in shown_c) == bool((c.get("phone") or "").strip())
        and ("Email:" in shown_c) == bool((c.get("email") or "").strip())
        for c, shown_c in zip(central, channels, strict=False)
    )
    sites_with_contact = sum("Contact —" in text for text in shown_sites)
    none_said = "No contact is listed" in page
    has_any = bool(central) or bool(site_contacts)
    leaked = any(
        value and value in page_html
        for c in central + [c for loc in locations for c in loc.get("contacts", [])]
        for value in (norm(c.get("email", "")), norm(c.get("phone", "")))
        if len(value) > 6
    )
    api_central = api.get("central_contacts")
    add(
        "contacts",
        verdict(has_any, not none_said,
                central_ok and sites_with_contact == site_contacts and none_said != has_any
                and not leaked),
        verdict(has_any, bool(api_central),
                api_central == [{"phone": bool((c.get("phone") or "").strip()),
                                 "email": bool((c.get("email") or "").strip())}
                                for c in central]
                and sum(s.get("has_contact", False) for s in api_sites) == site_contacts),
    )  # fmt: skip
