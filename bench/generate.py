"""Synthetic registry data for the benchmark: N trials recombined from the 296 real records.

    .venv/bin/python bench/generate.py 60000      # writes bench/data/ctgov-60000.zip

The zip has the shape of ClinicalTrials.gov's bulk download (`ctg-studies.json.zip`): one
`NCTxxxxxxxx.json` study per member. Trials get new NCT ids (NCT9xxxxxxx, never a real one) and
mix the real records' parts: titles, summaries, conditions and their MeSH terms from one record,
interventions from another, design (phases, study type) from a third, eligibility from a fourth,
sites with real coordinates from the pool of all real locations. Statuses follow the registry's
mix (~11% recruiting). Deterministic for a given N and seed; written one study at a time, so
600,000 take no more memory than 6,000.
"""

import datetime
import json
import os
import random
import sys
import time
import zipfile
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import DATA, ROOT, say

REAL = ROOT / "trials" / "demo_data" / "ctgov"
SEED = 20260601
FIRST_ID = 90_000_000  # NCT90000000 upwards: real NCT numbers are far below

# The registry's overall-status mix (clinicaltrials.gov, 2025): ~11% recruiting.
STATUS_WEIGHTS = {
    "COMPLETED": 48.0,
    "UNKNOWN": 18.5,
    "RECRUITING": 11.0,
    "ACTIVE_NOT_RECRUITING": 6.5,
    "TERMINATED": 5.6,
    "NOT_YET_RECRUITING": 2.6,
    "WITHDRAWN": 2.8,
    "ENROLLING_BY_INVITATION": 1.2,
    "SUSPENDED": 0.3,
    "NO_LONGER_AVAILABLE": 0.5,
    "AVAILABLE": 0.2,
    "APPROVED_FOR_MARKETING": 0.3,
    "WITHHELD": 0.1,
    "TEMPORARILY_NOT_AVAILABLE": 0.05,
}
# Site statuses in a recruiting trial, as in the real records.
RECRUITING_SITE_STATUS = {
    "RECRUITING": 64,
    "NOT_YET_RECRUITING": 15,
    "ACTIVE_NOT_RECRUITING": 11,
    "WITHDRAWN": 6,
    "COMPLETED": 2,
    "SUSPENDED": 1,
    "TERMINATED": 1,
}
STOPPED = {"TERMINATED", "WITHDRAWN", "SUSPENDED"}
WHY_STOPPED = [
    "Slow accrual",
    "Sponsor decision",
    "Funding ended",
    "PI left the institution",
    "Business reasons",
    "Study drug no longer available",
]
MIN_AGES = [("18 Years", 60), ("", 12), ("12 Years", 3), ("6 Months", 2), ("2 Years", 2),
            ("40 Years", 5), ("50 Years", 5), ("65 Years", 3), ("21 Years", 5),
            ("30 Days", 1)]  # fmt: skip
MAX_AGES = [("", 45), ("75 Years", 10), ("65 Years", 8), ("80 Years", 8), ("17 Years", 4),
            ("99 Years", 5), ("85 Years", 6), ("70 Years", 8), ("120 Years", 3),
            ("18 Months", 1)]  # fmt: skip
SEXES = [("ALL", 86), ("FEMALE", 10), ("MALE", 4)]
WITH_RESULTS = 0.03  # share of finished trials carrying a (large) resultsSection
EPOCH = datetime.date(1998, 1, 1)
TODAY = datetime.date(2026, 5, 1)


def _weighted(rng: random.Random, pairs):
    values, weights = zip(*(pairs.items() if isinstance(pairs, dict) else pairs), strict=True)
    return lambda: rng.choices(values, weights)[0]


def _age_days(text: str) -> float | None:
    if not text:
        return None
    number, unit = text.split()
    return float(number) * {"Years": 365.25, "Months": 30.4, "Days": 1.0}[unit]


def _std_ages(min_age: str, max_age: str) -> list[str]:
    lo = _age_days(min_age) or 0
    hi = _age_days(max_age) or 1e9
    ages = []
    if lo < 18 * 365.25:
        ages.append("CHILD")
    if lo < 65 * 365.25 and hi >= 18 * 365.25:
        ages.append("ADULT")
    if hi >= 65 * 365.25:
        ages.append("OLDER_ADULT")
    return ages or ["ADULT"]


class Pools:
    """The parts of the real records that synthetic trials are built from."""

    def __init__(self):
        self.records = [json.loads(p.read_text()) for p in sorted(REAL.glob("NCT*.json"))]
        self.locations = []
        for record in self.records:
            module = record["protocolSection"].get("contactsLocationsModule", {})
            self.locations.extend(
                loc for loc in module.get("locations", []) if "geoPoint" in loc and loc.get("city")
            )
        self.results = [r["resultsSection"] for r in self.records if "resultsSection" in r]
        self.central = [
            r["protocolSection"]["contactsLocationsModule"]["centralContacts"]
            for r in self.records
            if r["protocolSection"].get("contactsLocationsModule", {}).get("centralContacts")
        ]


def _date(day: datetime.date, precision: str) -> str:
    return day.isoformat() if precision == "day" else day.isoformat()[:7]


class Generator:
    def __init__(self, seed: int = SEED):
        self.rng = random.Random(seed)
        self.pools = Pools()
        rng = self.rng
        self.status = _weighted(rng, STATUS_WEIGHTS)
        self.site_status = _weighted(rng, RECRUITING_SITE_STATUS)
        self.min_age = _weighted(rng, MIN_AGES)
        self.max_age = _weighted(rng, MAX_AGES)
        self.sex = _weighted(rng, SEXES)
        self._cache: dict[int, str] = {}

    def _site_count(self) -> int:
        # Most trials have one or a few sites; a long tail of multicentre trials up to 50.
        r = self.rng.random()
        if r < 0.45:
            return 1
        if r < 0.75:
            return self.rng.randint(2, 5)
        if r < 0.92:
            return self.rng.randint(6, 20)
        return self.rng.randint(21, 50)

    def _dates(self, status: str) -> dict:
        rng = self.rng
        if status in ("RECRUITING", "NOT_YET_RECRUITING", "ENROLLING_BY_INVITATION"):
            start = TODAY - datetime.timedelta(days=rng.randint(-200, 1500))
        else:
            start = EPOCH + datetime.timedelta(days=rng.randint(0, (TODAY - EPOCH).days - 400))
        primary = start + datetime.timedelta(days=rng.randint(180, 2200))
        completion = primary + datetime.timedelta(days=rng.randint(0, 700))
        first_posted = start + datetime.timedelta(days=rng.randint(-120, 60))
        last_update = min(TODAY, first_posted + datetime.timedelta(days=rng.randint(30, 4000)))
        future = "ESTIMATED"
        precision = "day" if rng.random() < 0.7 else "month"
        return {
            "startDateStruct": {
                "date": _date(start, precision),
                "type": "ACTUAL" if start <= TODAY else future,
            },
            "primaryCompletionDateStruct": {
                "date": _date(primary, precision),
                "type": "ACTUAL" if primary <= TODAY else future,
            },
            "completionDateStruct": {
                "date": _date(completion, precision),
                "type": "ACTUAL" if completion <= TODAY else future,
            },
            "studyFirstSubmitDate": first_posted.isoformat(),
            "studyFirstPostDateStruct": {"date": first_posted.isoformat(), "type": "ACTUAL"},
            "lastUpdateSubmitDate": last_update.isoformat(),
            "lastUpdatePostDateStruct": {"date": last_update.isoformat(), "type": "ACTUAL"},
        }

    def _sites(self, status: str) -> list[dict]:
        rng = self.rng
        sites = []
        for loc in rng.sample(self.pools.locations, self._site_count()):
            site = {k: v for k, v in loc.items() if k not in ("status", "contacts")}
            if status == "RECRUITING":
                site["status"] = self.site_status()
                if "contacts" in loc:
                    site["contacts"] = loc["contacts"]
            elif status == "NOT_YET_RECRUITING":
                site["status"] = "NOT_YET_RECRUITING"
            # The registry drops site statuses once a study no longer recruits.
            sites.append(site)
        return sites

    def study(self, index: int) -> tuple[str, str]:
        """(NCT id, JSON text) of the index-th synthetic trial."""
        rng = self.rng
        records = self.pools.records
        topic, treatment, design_donor, people, sponsor = (rng.choice(records) for _ in range(5))
        nct_id = f"NCT{FIRST_ID + index:08d}"
        tp, trp = topic["protocolSection"], treatment["protocolSection"]
        dp, pp = design_donor["protocolSection"], people["protocolSection"]
        status = self.status()

        ident = dict(tp["identificationModule"])
        ident["nctId"] = nct_id
        ident.pop("secondaryIdInfos", None)
        ident["orgStudyIdInfo"] = {"id": f"BENCH-{index}"}
        status_module = {"statusVerifiedDate": TODAY.isoformat()[:7], "overallStatus": status}
        if status == "UNKNOWN":
            status_module["lastKnownStatus"] = rng.choice(["RECRUITING", "ACTIVE_NOT_RECRUITING"])
        if status in STOPPED:
            status_module["whyStopped"] = rng.choice(WHY_STOPPED)
        status_module.update(self._dates(status))

        design = dict(dp.get("designModule", {}))
        if "enrollmentInfo" in design or rng.random() < 0.9:
            design["enrollmentInfo"] = {
                "count": int(rng.lognormvariate(4.3, 1.2)),
                "type": "ACTUAL" if status in ("COMPLETED", "TERMINATED") else "ESTIMATED",
            }

        eligibility = dict(pp.get("eligibilityModule", {}))
        min_age, max_age = self.min_age(), self.max_age()
        if min_age and max_age and _age_days(min_age) > _age_days(max_age):
            max_age = ""
        for key, value in (("minimumAge", min_age), ("maximumAge", max_age)):
            if value:
                eligibility[key] = value
            else:
                eligibility.pop(key, None)
        eligibility["sex"] = self.sex()
        eligibility["stdAges"] = _std_ages(min_age, max_age)

        contacts_module = {"locations": self._sites(status)}
        if status in ("RECRUITING", "NOT_YET_RECRUITING") and rng.random() < 0.8:
            contacts_module["centralContacts"] = rng.choice(self.pools.central)
        officials = tp.get("contactsLocationsModule", {}).get("overallOfficials")
        if officials:
            contacts_module["overallOfficials"] = officials

        criteria = eligibility.pop("eligibilityCriteria", None)
        has_results = (
            status in ("COMPLETED", "TERMINATED")
            and self.pools.results
            and rng.random() < WITH_RESULTS / 0.54
        )
        # Assembled as text: the large parts shared with the real records are serialised once.
        static = self._static
        protocol = [
            ("identificationModule", _dumps(ident)),
            ("statusModule", _dumps(status_module)),
            (
                "sponsorCollaboratorsModule",
                static(sponsor["protocolSection"].get("sponsorCollaboratorsModule")),
            ),
            ("descriptionModule", static(tp.get("descriptionModule"))),
            ("conditionsModule", static(tp.get("conditionsModule"))),
            ("designModule", _dumps(design)),
            ("armsInterventionsModule", static(trp.get("armsInterventionsModule"))),
            ("outcomesModule", static(trp.get("outcomesModule"))),
            (
                "eligibilityModule",
                _with_key(_dumps(eligibility), "eligibilityCriteria", static(criteria)),
            ),
            ("contactsLocationsModule", _dumps(contacts_module)),
        ]
        derived = [("miscInfoModule", _dumps({"versionHolder": TODAY.isoformat()}))]
        for donor, key in (
            (topic, "conditionBrowseModule"),
            (treatment, "interventionBrowseModule"),
        ):
            if key in donor.get("derivedSection", {}):
                derived.append((key, static(donor["derivedSection"][key])))
        parts = [("protocolSection", _object(protocol))]
        if has_results:
            parts.append(("resultsSection", static(rng.choice(self.pools.results))))
        parts.append(("derivedSection", _object(derived)))
        parts.append(("hasResults", "true" if has_results else "false"))
        return nct_id, _object(parts)

    def _static(self, value) -> str | None:
        """JSON of a part of a real record, serialised once (the records live as long as we do)."""
        if value is None:
            return None
        key = id(value)
        text = self._cache.get(key)
        if text is None:
            text = self._cache[key] = _dumps(value)
        return text


def _dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def _object(pairs: list[tuple[str, str | None]]) -> str:
    """A JSON object from already serialised values (None leaves the key out)."""
    return "{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in pairs if v is not None) + "}"


def _with_key(obj_text: str, key: str, value: str | None) -> str:
    if value is None:
        return obj_text
    sep = "" if obj_text == "{}" else ","
    return f"{obj_text[:-1]}{sep}{json.dumps(key)}:{value}}}"


def zip_path_for(n: int) -> Path:
    return DATA / f"ctgov-{n}.zip"


def generate(n: int, path: Path | None = None, *, seed: int = SEED) -> Path:
    """Write the N-trial zip (once: an existing file is reused)."""
    path = path or zip_path_for(n)
    if path.exists():
        say(f"reusing {path.relative_to(ROOT)}")
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".zip.partial")
    started = time.monotonic()
    generator = Generator(seed + n)
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for index in range(n):
            nct_id, text = generator.study(index)
            archive.writestr(f"{nct_id}.json", text)
            if index and index % 50_000 == 0:
                say(f"generated {index:,} trials ({time.monotonic() - started:.0f} s)")
    os.replace(partial, path)
    elapsed = time.monotonic() - started
    size = path.stat().st_size / 1e6
    say(f"generated {n:,} trials in {elapsed:.1f} s ({n / elapsed:,.0f}/s), {size:,.0f} MB")
    return path


# --- the nightly update ------------------------------------------------------------------------


def changed_records(zip_path: Path, count: int, seed: int) -> list[dict]:
    """`count` records of the zip, changed the way a nightly registry update changes them:
    lastUpdatePostDate moves on, and each gets one or more of: a status change (recruiting →
    active, not recruiting, or not yet → recruiting), a site added or a site's status changed,
    the eligibility text edited, the enrollment count changed."""
    rng = random.Random(seed)
    with zipfile.ZipFile(zip_path) as archive:
        names = [n for n in archive.namelist() if n.endswith(".json")]
        chosen = rng.sample(names, min(count, len(names)))
        records = [json.loads(archive.read(name)) for name in chosen]
    pools_locations = None
    changed = []
    for record in records:
        ps = record["protocolSection"]
        status = ps["statusModule"]
        posted = datetime.date.fromisoformat(status["lastUpdatePostDateStruct"]["date"])
        later = max(posted, TODAY) + datetime.timedelta(days=rng.randint(1, 30))
        status["lastUpdatePostDateStruct"] = {"date": later.isoformat(), "type": "ACTUAL"}
        status["lastUpdateSubmitDate"] = later.isoformat()
        kinds = rng.sample(["status", "site", "eligibility", "enrollment"], rng.randint(1, 3))
        sites = ps.setdefault("contactsLocationsModule", {}).setdefault("locations", [])
        for kind in kinds:
            if kind == "status":
                old = status["overallStatus"]
                new = {
                    "RECRUITING": "ACTIVE_NOT_RECRUITING",
                    "NOT_YET_RECRUITING": "RECRUITING",
                    "ACTIVE_NOT_RECRUITING": "COMPLETED",
                    "ENROLLING_BY_INVITATION": "ACTIVE_NOT_RECRUITING",
                }.get(old, "RECRUITING" if rng.random() < 0.3 else old)
                status["overallStatus"] = new
                status.pop("lastKnownStatus", None)
                if new == "RECRUITING":
                    for site in sites:
                        site["status"] = "RECRUITING"
                elif new != old:
                    for site in sites:
                        site.pop("status", None)
            elif kind == "site":
                recruiting = status["overallStatus"] == "RECRUITING"
                if sites and rng.random() < 0.5 and recruiting:
                    site = rng.choice(sites)
                    site["status"] = (
                        "ACTIVE_NOT_RECRUITING"
                        if site.get("status") == "RECRUITING"
                        else "RECRUITING"
                    )
                else:
                    if pools_locations is None:
                        pools_locations = Pools().locations
                    site = {
                        k: v
                        for k, v in rng.choice(pools_locations).items()
                        if k not in ("status", "contacts")
                    }
                    site["facility"] = f"{site.get('facility', 'Site')} (new {rng.randint(1, 999)})"
                    if recruiting:
                        site["status"] = "RECRUITING"
                    sites.append(site)
            elif kind == "eligibility":
                eligibility = ps.setdefault("eligibilityModule", {})
                text = eligibility.get("eligibilityCriteria", "Inclusion Criteria:\n\n* Adults")
                eligibility["eligibilityCriteria"] = (
                    text.rstrip() + f"\n* Amendment {rng.randint(1, 9)}: no prior participation"
                )
            else:
                design = ps.setdefault("designModule", {})
                info = design.setdefault("enrollmentInfo", {"type": "ESTIMATED"})
                info["count"] = max(1, int((info.get("count") or 50) * rng.uniform(0.6, 1.6)))
        changed.append(record)
    return changed


if __name__ == "__main__":
    generate(int(sys.argv[1]))
