"""Brand, generic and code names learned from the trials' own records (interventions'
otherNames): searching one finds the trials that list another."""

import copy
import json

import pytest
from django.http import QueryDict

from tests.conftest import SEED_DATA, import_records
from trials.other_names import build
from trials.query import understand
from trials.search import parse_params, search_trials


def test_a_brand_and_its_generic_name_each_other_with_signs_and_doses_dropped():
    table = build([("Zorvatinib 50 mg", ["ZORVIX®", "ZRV-101"])])
    assert table[("zorvix",)] == (("zorvatinib",), ("zrv", "101"))
    assert table[("zorvatinib",)] == (("zorvix",), ("zrv", "101"))


def test_a_name_written_inside_the_interventions_name_is_trusted():
    table = build([("Herceptin (trastuzumab)", []), ("Trastuzumab", ["Herceptin"])])
    assert table[("herceptin",)] == (("trastuzumab",),)


def test_two_interventions_own_names_are_two_drugs_not_two_names():
    # A combination arm's record: "Adagrasib", other name "Pembrolizumab".
    table = build([("Adagrasib", ["Pembrolizumab", "Krazati"]), ("Pembrolizumab", ["Keytruda"])])
    assert table[("adagrasib",)] == (("krazati",),)
    assert table[("pembrolizumab",)] == (("keytruda",),)


def test_a_regimen_named_for_several_drugs_is_nobodys_other_name():
    table = build([("Doxorubicin", ["ABVD", "Adriamycin"]), ("Dacarbazine", ["ABVD"])])
    assert ("abvd",) not in table
    assert table[("doxorubicin",)] == (("adriamycin",),)


def test_treatment_kinds_and_combinations_are_not_names():
    table = build(
        [
            ("Cisplatin", ["Chemotherapy"]),
            ("Placebo", ["Normal saline"]),
            ("Gemcitabine", ["Gemcitabine, Oxaliplatin and Leucovorin"]),
            ("Baxdrostat/dapagliflozin", ["CIN-107"]),
        ]
    )
    assert table == {}


def record(nct_id: str, interventions: list[dict]) -> dict:
    base = json.loads((SEED_DATA / "NCT05738187.json").read_text())
    study = copy.deepcopy(base)
    protocol = study["protocolSection"]
    protocol["identificationModule"]["nctId"] = nct_id
    protocol["identificationModule"]["briefTitle"] = f"A study {nct_id}"
    protocol["identificationModule"].pop("officialTitle", None)
    protocol["armsInterventionsModule"] = {"interventions": interventions}
    return study


@pytest.fixture
def zorvix_trials(db, tmp_path):
    """One record says Zorvatinib is ZORVIX®; one lists only the brand, one only the generic."""
    records = {
        "NCT09990101": [{"type": "DRUG", "name": "Zorvatinib 50 mg", "otherNames": ["ZORVIX®"]}],
        "NCT09990102": [{"type": "DRUG", "name": "Zorvix™ tablets"}],
        "NCT09990103": [{"type": "DRUG", "name": "zorvatinib"}],
    }
    for nct_id, interventions in records.items():
        (tmp_path / f"{nct_id}.json").write_text(json.dumps(record(nct_id, interventions)))
    stats = import_records(tmp_path)
    assert stats.failed == 0, stats.summary()
    return set(records)


def found(q: str, lang: str = "en") -> set[str]:
    params, _errors = parse_params(QueryDict(f"status=any&lang={lang}"), lang=lang)
    params = params.without(q=q)
    return {hit.trial.nct_id for hit in search_trials(params, page_size=50).hits}


@pytest.mark.parametrize("q", ["Zorvix", "ZORVIX®", "zorvix™", "Zorvatinib", "ZORVATINIB"])
def test_searching_a_brand_or_its_generic_finds_the_trials_listing_either(zorvix_trials, q):
    assert found(q) >= zorvix_trials


def test_the_learned_names_are_understood_in_french_and_italian_too(zorvix_trials):
    assert found("Zorvix", "fr") >= zorvix_trials
    assert found("studio zorvatinib", "it") >= zorvix_trials
    (clause,) = understand("Zorvix", "it").clauses
    assert {str(p) for p in clause.phrases} >= {"zorvix", "zorvatinib"}


def test_the_names_are_learned_by_the_import_and_a_search_after_it_only_reads_them(zorvix_trials):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from trials.search import bump_search_generation

    bump_search_generation()  # every cached search gone, as after the next import
    with CaptureQueriesContext(connection) as queries:
        (clause,) = understand("Zorvix").clauses
    assert {str(p) for p in clause.phrases} >= {"zorvix", "zorvatinib"}
    assert not [q for q in queries if "jsonb_array_elements" in q["sql"]]
    assert len(queries) <= 2  # which table is current; the table when this process lacks it
