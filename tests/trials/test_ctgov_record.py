"""Reading single fields of API v2 records: ages, dates, hashes, changed paths."""

import datetime

import pytest

from trials.ctgov import (
    RecordError,
    age_in_days,
    changed_paths,
    parse_partial_date,
    record_hash,
    years_to_days,
)


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("18 Years", 6574),
        ("1 Year", 365),
        ("6 Months", 182),
        ("30 Months", 913),
        ("4 Weeks", 28),
        ("1 Day", 1),
        ("12 Hours", 0),
        ("130 Years", 47482),
        ("", None),
        (None, None),
        ("N/A", None),
    ],
)
def test_it_converts_ages_to_days(text, days):
    assert age_in_days(text) == days


@pytest.mark.parametrize("text", ["eighteen", "18", "18 Parsecs", "-3 Years", "500 Years"])
def test_it_refuses_ages_it_cannot_read(text):
    with pytest.raises(RecordError):
        age_in_days(text)


def test_a_patient_of_the_minimum_age_is_within_range():
    # Patients give whole years; both sides convert the same way so 18 >= "18 Years".
    assert years_to_days(18) >= age_in_days("18 Years")
    assert years_to_days(65) <= age_in_days("65 Years")
    assert years_to_days(17) < age_in_days("18 Years")
    assert years_to_days(66) > age_in_days("65 Years")
    assert years_to_days(0) < age_in_days("6 Months") < years_to_days(1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-02-21", (datetime.date(2023, 2, 21), "day")),
        ("2023-02", (datetime.date(2023, 2, 1), "month")),
        ("2023", (datetime.date(2023, 1, 1), "year")),
        (None, (None, "")),
    ],
)
def test_it_reads_partial_dates_with_their_precision(text, expected):
    assert parse_partial_date(text, "date") == expected


@pytest.mark.parametrize("text", ["2023-13", "2023-02-30", "21/02/2023", "1066-10-14", "yesterday"])
def test_it_refuses_dates_it_cannot_read(text):
    with pytest.raises(RecordError):
        parse_partial_date(text, "date")


def test_the_hash_ignores_key_order_and_the_release_date():
    a = {
        "protocolSection": {"x": 1, "y": 2},
        "derivedSection": {"miscInfoModule": {"versionHolder": "2025-01-01"}},
    }
    b = {
        "derivedSection": {"miscInfoModule": {"versionHolder": "2026-01-01"}},
        "protocolSection": {"y": 2, "x": 1},
    }
    assert record_hash(a) == record_hash(b)
    b["protocolSection"]["y"] = 3
    assert record_hash(a) != record_hash(b)


def test_changed_paths_name_the_leaves_that_changed():
    old = {"p": {"status": {"overall": "RECRUITING", "why": "x"}, "sites": [1, 2]}}
    new = {"p": {"status": {"overall": "COMPLETED"}, "sites": [1, 2, 3]}}
    assert changed_paths(old, new) == ["p.sites", "p.status.overall", "p.status.why"]


def _minimal(**eligibility) -> dict:
    return {
        "protocolSection": {
            "identificationModule": {"nctId": "NCT01234567", "briefTitle": "A study"},
            "statusModule": {"overallStatus": "RECRUITING"},
            "eligibilityModule": eligibility,
        }
    }


def test_bidi_override_characters_are_neutralised():
    from trials.ctgov import parse_study

    record = _minimal()
    record["protocolSection"]["identificationModule"]["briefTitle"] = (
        "Safe \u202etxet desrever\u202c and \u2067isolated\u2069 text \u200f"
    )
    title = parse_study(record).fields["brief_title"]
    assert title == "Safe txet desrever and isolated text \u200f"


def test_a_record_without_sex_is_not_stated_rather_than_all():
    from trials.ctgov import parse_study

    assert parse_study(_minimal()).fields["sex"] == ""
    assert parse_study(_minimal(sex="FEMALE")).fields["sex"] == "FEMALE"


def test_secondary_outcomes_and_results_first_posted_are_read():
    from trials.ctgov import parse_study

    record = _minimal()
    record["protocolSection"]["outcomesModule"] = {
        "secondaryOutcomes": [{"measure": " Overall survival ", "timeFrame": "5 years"}]
    }
    record["protocolSection"]["statusModule"]["resultsFirstPostDateStruct"] = {
        "date": "2024-03-05",
        "type": "ACTUAL",
    }
    fields = parse_study(record).fields
    assert fields["secondary_outcomes"] == [
        {"measure": "Overall survival", "time_frame": "5 years", "description": ""}
    ]
    assert fields["results_first_posted"].isoformat() == "2024-03-05"
    assert fields["last_update_posted"] is None  # absent, never the import date
