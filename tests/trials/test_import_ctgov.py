"""manage.py import_ctgov and the importer behind it, on the real demo records."""

import copy
import datetime
import io
import json
import zipfile

import pytest
from django.core.management import CommandError, call_command

from tests.conftest import DEMO_DATA, SEED_DATA
from trials.ctgov import age_in_days
from trials.importer import TRIAL_UPDATE_FIELDS, Importer
from trials.models import Contact, Site, Trial, TrialVersion
from trials.sources import iter_source

pytestmark = pytest.mark.django_db

REAL_RECORDS = sorted(DEMO_DATA.glob("NCT*.json"))
ALL_RECORDS = REAL_RECORDS + sorted(SEED_DATA.glob("NCT*.json"))


def run(*args):
    """Run the command; return (exit code, stdout lines, stderr text)."""
    out, err = io.StringIO(), io.StringIO()
    code = 0
    try:
        call_command("import_ctgov", *args, stdout=out, stderr=err)
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue().strip().splitlines(), err.getvalue()


def load(nct_id: str) -> dict:
    return json.loads((DEMO_DATA / f"{nct_id}.json").read_text())


def write(tmp_path, name: str, data) -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def _date(struct):
    return (struct or {}).get("date")


def test_it_imports_every_real_record_with_its_fields():
    # The session fixture imported trials/demo_data/ctgov; check each record against its JSON.
    assert len(REAL_RECORDS) == 296
    assert Trial.objects.count() == len(ALL_RECORDS)
    trials = {t.nct_id: t for t in Trial.objects.all()}
    sites_by_trial = {}
    for site in Site.objects.order_by("trial_id", "position"):
        sites_by_trial.setdefault(site.trial_id, []).append(site)
    central_counts = {}
    for contact in Contact.objects.filter(site__isnull=True):
        central_counts[contact.trial_id] = central_counts.get(contact.trial_id, 0) + 1

    for path in ALL_RECORDS:
        record = json.loads(path.read_text())
        ps = record["protocolSection"]
        ident, status = ps["identificationModule"], ps.get("statusModule", {})
        design, elig = ps.get("designModule", {}), ps.get("eligibilityModule", {})
        conds, locs = ps.get("conditionsModule", {}), ps.get("contactsLocationsModule", {})
        trial = trials[ident["nctId"]]
        where = ident["nctId"]

        assert trial.brief_title == ident["briefTitle"].strip(), where
        assert trial.official_title == ident.get("officialTitle", "").strip(), where
        assert trial.overall_status == status["overallStatus"], where
        assert trial.phases == design.get("phases", []), where
        assert trial.study_type == design.get("studyType", ""), where
        assert trial.conditions == [c.strip() for c in conds.get("conditions", [])], where
        assert trial.keywords == [k.strip() for k in conds.get("keywords", [])], where
        assert trial.sex == elig.get("sex", ""), where  # absent stays absent, never "ALL"
        assert trial.healthy_volunteers == elig.get("healthyVolunteers"), where
        assert trial.minimum_age == elig.get("minimumAge", ""), where
        assert trial.maximum_age == elig.get("maximumAge", ""), where
        assert trial.eligibility_criteria == elig.get("eligibilityCriteria", "").strip(), where
        lead = ps.get("sponsorCollaboratorsModule", {}).get("leadSponsor", {})
        assert trial.lead_sponsor == lead.get("name", ""), where
        assert trial.enrollment_count == design.get("enrollmentInfo", {}).get("count"), where
        start = _date(status.get("startDateStruct"))
        assert (trial.start_date.isoformat() if trial.start_date else None) == (
            start if start is None or len(start) == 10 else f"{start}-01"
        ), where
        posted = _date(status.get("lastUpdatePostDateStruct"))
        assert (trial.last_update_posted.isoformat() if trial.last_update_posted else None) == (
            posted
        ), where
        outcomes = ps.get("outcomesModule", {})
        for name, stored in (
            ("primaryOutcomes", trial.primary_outcomes),
            ("secondaryOutcomes", trial.secondary_outcomes),
        ):
            assert [(o["measure"], o["time_frame"]) for o in stored] == [
                (o["measure"].strip(), o.get("timeFrame", "").strip())
                for o in outcomes.get(name, [])
            ], where
        results = _date(status.get("resultsFirstPostDateStruct"))
        assert (
            trial.results_first_posted.isoformat() if trial.results_first_posted else None
        ) == results, where
        assert trial.last_known_status == status.get("lastKnownStatus", ""), where
        meshes = record.get("derivedSection", {}).get("conditionBrowseModule", {}).get("meshes", [])
        assert trial.condition_meshes == list(dict.fromkeys(m["term"] for m in meshes)), where

        sites = sites_by_trial.get(trial.id, [])
        locations = locs.get("locations", [])
        assert len(sites) == len(locations), where
        for site, location in zip(sites, locations, strict=True):
            assert site.city == location.get("city", "").strip(), where
            assert site.country == location.get("country", "").strip(), where
            assert site.status == location.get("status", ""), where
            if "geoPoint" in location:
                assert site.latitude == location["geoPoint"]["lat"], where
                assert site.longitude == location["geoPoint"]["lon"], where
                assert not site.location_estimated, where
        assert central_counts.get(trial.id, 0) == len(locs.get("centralContacts", [])), where
        assert trial.versions.count() == 1, where


def test_it_normalises_country_spellings_to_iso_codes():
    codes = set(
        Site.objects.filter(
            country__in=["Korea, Republic of", "Russian Federation", "Turkey (Türkiye)"]
        ).values_list("country", "country_code")
    )
    assert ("Korea, Republic of", "KR") in codes
    assert ("Russian Federation", "RU") in codes
    assert Site.objects.exclude(country="").filter(country_code="").count() == 0


def test_it_writes_a_weighted_search_vector():
    trial = Trial.objects.get(nct_id="NCT06129864")
    assert "volrustomig" in trial.search_vector  # an intervention, weight B
    assert Trial.objects.filter(search_vector__isnull=True).count() == 0


def test_it_changes_nothing_when_the_same_records_are_imported_again():
    versions = TrialVersion.objects.count()
    code, out, err = run(str(DEMO_DATA), str(SEED_DATA))
    assert code == 0, err
    assert out[-1] == f"created 0, updated 0, unchanged {len(ALL_RECORDS)}, failed 0"
    assert TrialVersion.objects.count() == versions


def test_it_ignores_the_release_date_that_changes_with_every_download(tmp_path):
    record = load("NCT06129864")
    record["derivedSection"]["miscInfoModule"]["versionHolder"] = "2026-11-20"
    _, out, _ = run(write(tmp_path, "NCT06129864.json", record))
    assert out[-1] == "created 0, updated 0, unchanged 1, failed 0"


def test_it_records_a_version_with_the_fields_and_patient_changes(tmp_path):
    record = load("NCT06129864")
    trial = Trial.objects.get(nct_id="NCT06129864")
    before_sites = trial.sites.count()
    changed = copy.deepcopy(record)
    changed["protocolSection"]["statusModule"]["overallStatus"] = "ACTIVE_NOT_RECRUITING"
    locations = changed["protocolSection"]["contactsLocationsModule"]["locations"]
    first = locations[0]
    old_first_status = first["status"]
    first["status"] = "RECRUITING" if old_first_status != "RECRUITING" else "COMPLETED"
    removed = locations.pop()
    locations.append(
        {
            "facility": "IRCCS Humanitas Research Hospital",
            "status": "RECRUITING",
            "city": "Rozzano",
            "state": "Milano",
            "zip": "20089",
            "country": "Italy",
            "geoPoint": {"lat": 45.38193, "lon": 9.1559},
        }
    )
    changed["protocolSection"]["eligibilityModule"]["minimumAge"] = "21 Years"

    code, out, err = run(write(tmp_path, "changed.json", changed))

    assert code == 0, err
    assert out[-1] == "created 0, updated 1, unchanged 0, failed 0"
    trial.refresh_from_db()
    assert trial.overall_status == "ACTIVE_NOT_RECRUITING"
    assert trial.change_count == 1
    assert trial.minimum_age_days == age_in_days("21 Years")
    version = trial.versions.get(number=2)
    assert "protocolSection.statusModule.overallStatus" in version.changed_fields
    assert "protocolSection.contactsLocationsModule.locations" in version.changed_fields
    assert "protocolSection.eligibilityModule.minimumAge" in version.changed_fields
    kinds = [c["kind"] for c in version.patient_changes]
    assert kinds.count("status") == 1
    assert "site_added" in kinds and "site_removed" in kinds and "site_status" in kinds
    assert "ages" in kinds
    added = next(c for c in version.patient_changes if c["kind"] == "site_added")
    assert added["site"]["city"] == "Rozzano"
    # Sites are never deleted: the one that left the record is marked removed.
    assert trial.sites.count() == before_sites + 1
    gone = trial.sites.get(
        city=removed["city"], facility=removed.get("facility", ""), removed_at__isnull=False
    )
    assert gone.removed_at is not None


def test_a_site_keeps_its_identity_across_imports(tmp_path):
    trial = Trial.objects.get(nct_id="NCT06256588")
    site = trial.sites.filter(status="RECRUITING").first()
    record = load("NCT06256588")
    record["protocolSection"]["descriptionModule"]["briefSummary"] += " Updated."
    run(write(tmp_path, "NCT06256588.json", record))
    assert Site.objects.filter(id=site.id, removed_at__isnull=True).exists()


def test_every_parsed_field_is_written_on_update():
    from trials.ctgov import parse_study

    parsed = parse_study(load("NCT06129864"))
    assert set(parsed.fields) - {"nct_id"} <= set(TRIAL_UPDATE_FIELDS)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"protocolSection": {"identificationModule": {"nctId": "NCT0', "invalid JSON"),
        ('{"protocolSection": []}', "protocolSection"),
        ('{"protocolSection": {"identificationModule": {"briefTitle": "x"}}}', "nctId is missing"),
        ("[1, 2]", "should be a JSON object"),
        ('"just a string"', "not JSON"),
    ],
)
def test_it_skips_a_malformed_record_and_says_why(tmp_path, content, problem):
    path = write(tmp_path, "bad.json", content)
    code, out, err = run(path)
    assert code == 1
    assert out[-1].endswith("failed 1") or out[-1].endswith(", failed 2")
    assert "bad.json" in err and problem in err


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (lambda ps: ps["eligibilityModule"].__setitem__("minimumAge", "999 Years"), "absurd"),
        (lambda ps: ps["eligibilityModule"].__setitem__("minimumAge", "eighteen"), "not an age"),
        (lambda ps: ps["statusModule"].__setitem__("overallStatus", "PARTYING"), "unknown value"),
        (
            lambda ps: ps["contactsLocationsModule"]["locations"][0]["geoPoint"].__setitem__(
                "lat", 123.0
            ),
            "out of range",
        ),
        (
            lambda ps: ps["statusModule"]["startDateStruct"].__setitem__("date", "2023-13"),
            "not a date",
        ),
        (lambda ps: ps["designModule"].__setitem__("phases", "PHASE3"), "should be a list"),
        (lambda ps: ps["identificationModule"].__setitem__("nctId", "NCT123"), "not an NCT number"),
    ],
)
def test_it_rejects_absurd_values_whole_and_keeps_the_good_records(tmp_path, mutate, problem):
    bad = load("NCT06129864")
    bad["protocolSection"]["identificationModule"]["nctId"] = "NCT99999991"
    mutate(bad["protocolSection"])
    good = load("NCT06129864")
    good["protocolSection"]["identificationModule"]["nctId"] = "NCT99999992"
    folder = tmp_path / "mixed"
    folder.mkdir()
    write(folder, "a-bad.json", bad)
    write(folder, "b-good.json", good)

    code, out, err = run(str(folder))

    assert code == 1
    assert out[-1] == "created 1, updated 0, unchanged 0, failed 1"
    assert problem in err and "a-bad.json" in err
    assert not Trial.objects.filter(nct_id="NCT99999991").exists()
    assert Trial.objects.filter(nct_id="NCT99999992").exists()


def test_a_truncated_page_keeps_the_studies_before_the_break(tmp_path):
    studies = []
    for i, nct in enumerate(["NCT06129864", "NCT06256588", "NCT04892173"]):
        record = load(nct)
        record["protocolSection"]["identificationModule"]["nctId"] = f"NCT9999990{i}"
        studies.append(record)
    text = json.dumps({"studies": studies, "nextPageToken": "abc"})
    cut = text.index('"NCT99999902"') + 40
    code, out, err = run(write(tmp_path, "page.json", text[:cut]))
    assert code == 1
    assert out[-1] == "created 2, updated 0, unchanged 0, failed 1"
    assert "invalid JSON" in err


def test_it_imports_a_real_page_response():
    page = DEMO_DATA.parent / "extra" / "ctgov-page-example.json"
    code, out, _ = run(str(page))
    assert code == 0
    assert out[-1] == "created 0, updated 0, unchanged 5, failed 0"


def test_it_imports_the_bulk_zip(tmp_path):
    archive = tmp_path / "ctg-studies.json.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for nct in ("NCT06129864", "NCT06256588"):
            record = load(nct)
            record["protocolSection"]["identificationModule"]["nctId"] = nct.replace("NCT0", "NCT9")
            zf.writestr(f"ctg-studies/{nct}.json", json.dumps(record))
    code, out, err = run(str(archive))
    assert code == 0, err
    assert out[-1] == "created 2, updated 0, unchanged 0, failed 0"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.json", None, "no such file or directory"),
        ("empty.json", "", "empty file"),
        ("fake.zip", "this is not a zip", "not a zip file"),
    ],
)
def test_it_refuses_an_unusable_path_in_one_line(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(CommandError) as excinfo:
        call_command("import_ctgov", str(path), stdout=io.StringIO(), stderr=io.StringIO())
    assert message in str(excinfo.value)
    assert "\n" not in str(excinfo.value)
    assert Trial.objects.count() == len(ALL_RECORDS)


def test_it_is_quiet_when_not_on_a_terminal():
    _, out, err = run(str(DEMO_DATA / "NCT06129864.json"))
    assert out == ["created 0, updated 0, unchanged 1, failed 0"]
    assert err == ""


def test_the_same_study_twice_in_one_input_is_written_in_order(tmp_path):
    first = load("NCT06129864")
    first["protocolSection"]["identificationModule"]["nctId"] = "NCT99999993"
    second = copy.deepcopy(first)
    second["protocolSection"]["statusModule"]["overallStatus"] = "COMPLETED"
    stats = Importer().run([("a", first), ("b", second)])
    assert (stats.created, stats.updated) == (1, 1)
    trial = Trial.objects.get(nct_id="NCT99999993")
    assert trial.overall_status == "COMPLETED"
    assert trial.versions.count() == 2


def test_first_seen_is_kept_and_portal_fields_survive_an_update(tmp_path):
    trial = Trial.objects.get(nct_id="NCT06129864")
    trial.plain_title = "A new medicine for head and neck cancer"
    trial.save()
    first_seen = trial.first_seen_at
    record = load("NCT06129864")
    record["protocolSection"]["descriptionModule"]["briefSummary"] = "Changed."
    Importer().run(iter_source(write(tmp_path, "x.json", record)))
    trial.refresh_from_db()
    assert trial.plain_title == "A new medicine for head and neck cancer"
    assert trial.first_seen_at == first_seen
    assert trial.brief_summary == "Changed."
    assert trial.last_changed_at > first_seen
    assert trial.last_changed_at.date() <= datetime.date.today()


def test_sites_without_coordinates_are_placed_at_their_city_from_the_gazetteer():
    strasbourg = Site.objects.get(trial__nct_id="NCT05738187")
    assert strasbourg.location_estimated
    assert abs(strasbourg.latitude - 48.58) < 0.05 and abs(strasbourg.longitude - 7.75) < 0.05
    rozzano = Site.objects.get(trial__nct_id="NCT07635641")
    assert abs(rozzano.latitude - 45.38) < 0.05 and abs(rozzano.longitude - 9.16) < 0.05
    # A real site the registry could not geocode either gets a point or keeps none.
    assert Site.objects.filter(location_estimated=True).count() > 2


def test_postal_codes_of_sites_become_searchable_places():
    from trials.geo import resolve

    point = resolve("91010")  # City of Hope, Duarte, California (NCT04892173)
    assert point is not None and point.country_code == "US"
    assert abs(point.latitude - 34.14) < 0.1


def test_an_older_copy_never_replaces_the_newer_one(tmp_path):
    trial = Trial.objects.get(nct_id="NCT06129864")
    record = load("NCT06129864")
    stored_status = record["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"]["date"]
    older = copy.deepcopy(record)
    older["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"]["date"] = "2020-01-02"
    older["protocolSection"]["statusModule"]["overallStatus"] = "WITHDRAWN"
    notes = []
    stats = Importer(on_note=lambda label, note: notes.append(note)).run([("old.json", older)])
    assert (stats.updated, stats.unchanged, stats.older) == (0, 1, 1)
    assert notes == [
        f"NCT06129864: registry update of 2020-01-02 is older than the stored {stored_status};"
        " the newer copy is kept"
    ]
    trial.refresh_from_db()
    assert trial.overall_status == record["protocolSection"]["statusModule"]["overallStatus"]
    assert trial.versions.count() == 1


def test_an_older_release_of_the_same_update_never_replaces_the_newer_one(tmp_path):
    record = load("NCT06129864")
    older = copy.deepcopy(record)
    older["derivedSection"]["miscInfoModule"]["versionHolder"] = "2001-01-01"
    older["protocolSection"]["descriptionModule"]["briefSummary"] = "An older wording."
    code, out, err = run(write(tmp_path, "NCT06129864.json", older))
    assert code == 0
    assert out[-1] == "created 0, updated 0, unchanged 1 (1 older than ours, kept out), failed 0"
    assert "kept out: " in err and "registry release of 2001-01-01" in err
    assert Trial.objects.get(nct_id="NCT06129864").brief_summary != "An older wording."


def test_a_newer_copy_still_replaces_the_stored_one(tmp_path):
    record = load("NCT06129864")
    newer = copy.deepcopy(record)
    newer["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"]["date"] = "2099-01-02"
    newer["protocolSection"]["descriptionModule"]["briefSummary"] = "A newer wording."
    stats = Importer().run([("new.json", newer)])
    assert (stats.updated, stats.older) == (1, 0)
    assert Trial.objects.get(nct_id="NCT06129864").brief_summary == "A newer wording."
