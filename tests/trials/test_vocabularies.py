"""What the search learns from the records (postal codes, "did you mean" words, other names of
treatments): an import adds what its trials bring; the daily refresh redoes them whole."""

import copy
import json

import pytest

from tests.conftest import SEED_DATA, import_records
from trials import other_names
from trials.models import LearnedNames, PostalCode, SearchTerm
from trials.tasks import refresh_vocabularies

pytestmark = pytest.mark.django_db


@pytest.fixture
def zorblastoma_trial(tmp_path):
    """A trial naming a condition, a code and a brand nobody else names."""
    study = copy.deepcopy(json.loads((SEED_DATA / "NCT05738187.json").read_text()))
    protocol = study["protocolSection"]
    protocol["identificationModule"]["nctId"] = "NCT09990201"
    protocol["conditionsModule"] = {"conditions": ["Zorblastoma"]}
    protocol["armsInterventionsModule"] = {
        "interventions": [{"type": "DRUG", "name": "Quelvatinib", "otherNames": ["QUELVA®"]}]
    }
    protocol["contactsLocationsModule"] = {
        "locations": [
            {
                "facility": "Clinique du Lac",
                "status": "RECRUITING",
                "city": "Annecy",
                "zip": "74990",
                "country": "France",
                "geoPoint": {"lat": 45.899, "lon": 6.129},
            }
        ]
    }
    (tmp_path / "NCT09990201.json").write_text(json.dumps(study))
    stats = import_records(tmp_path)
    assert (stats.created, stats.failed) == (1, 0)


def test_an_import_adds_the_words_codes_and_names_its_trials_bring(zorblastoma_trial):
    assert SearchTerm.objects.get(term="zorblastoma").trial_count == 1
    assert PostalCode.objects.filter(country_code="FR", code="74990").exists()
    assert other_names.table()[("quelvatinib",)] == (("quelva",),)


def test_a_small_import_leaves_the_other_counts_to_the_daily_refresh(zorblastoma_trial, tmp_path):
    cancer = SearchTerm.objects.get(term="cancer")
    SearchTerm.objects.filter(pk=cancer.pk).update(trial_count=1)  # as if counted long ago
    LearnedNames.objects.filter(pk=1).update(
        rows=[*LearnedNames.objects.get(pk=1).rows, ["Oldinib", ["OLDY"]]]
    )
    changed = json.loads((SEED_DATA / "NCT05738187.json").read_text())
    changed["protocolSection"]["identificationModule"]["briefTitle"] += " (amended)"
    (tmp_path / "changed").mkdir()
    (tmp_path / "changed" / "NCT05738187.json").write_text(json.dumps(changed))
    assert import_records(tmp_path / "changed").updated == 1  # nothing new to learn
    assert SearchTerm.objects.get(term="cancer").trial_count == 1
    assert ["Oldinib", ["OLDY"]] in LearnedNames.objects.get(pk=1).rows

    refresh_vocabularies()
    assert SearchTerm.objects.get(term="cancer").trial_count == cancer.trial_count > 1
    assert ["Oldinib", ["OLDY"]] not in LearnedNames.objects.get(pk=1).rows  # nobody's name now
    assert other_names.table()[("quelvatinib",)] == (("quelva",),)
