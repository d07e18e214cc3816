"""Arbitrary input to the contact and subscribe forms and to the importer: never an error,
never a row written from a rejected input."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import DEMO_DATA, clear_rate_limits
from tests.fuzz.conftest import FUZZ, TRIED

pytestmark = pytest.mark.django_db

ANY_TEXT = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12000),
    st.sampled_from(
        [
            "<script>alert(1)</script>",
            "=cmd|' /C calc'!A0",
            "+33 6 12 34 56 78",
            "a@b.co",
            "on",
            "send",
            "check",
            "fr",
            "other",
            "' OR 1=1 --",
            "é" * 300,
        ]
    ),
)
CONTACT_FIELDS = ["first_name", "last_name", "email", "phone", "preferred_language",
                  "other_language", "message", "consent", "site", "step", "near", "website",
                  "age", "sex"]  # fmt: skip


@FUZZ
@given(data=st.dictionaries(st.sampled_from(CONTACT_FIELDS), ANY_TEXT, max_size=14))
def test_the_contact_form_never_fails_and_saves_only_valid_inquiries(client, data):
    from patients.models import Inquiry

    TRIED["contact form"] += 1
    clear_rate_limits()
    before = Inquiry.objects.count()
    response = client.post("/trials/NCT05738187/contact/", data)
    assert response.status_code in (200, 302, 400, 409, 429)
    saved = Inquiry.objects.count() - before
    if response.status_code != 302:
        assert saved == 0
    assert saved in (0, 1)


SUBSCRIBE_FIELDS = ["email", "frequency", "language", "search"]


@FUZZ
@given(data=st.dictionaries(st.sampled_from(SUBSCRIBE_FIELDS), ANY_TEXT, max_size=4))
def test_the_subscribe_form_never_fails_and_saves_only_valid_subscriptions(client, data):
    from notifications.models import Subscription

    TRIED["subscribe form"] += 1
    clear_rate_limits()
    before = Subscription.objects.count()
    response = client.post("/alerts/subscribe/", data)
    assert response.status_code in (200, 302, 400, 429)
    if response.status_code != 302:
        assert Subscription.objects.count() == before


RECORD = json.loads((DEMO_DATA / "NCT06129864.json").read_text())
PATHS = [
    ("protocolSection", "identificationModule", "briefTitle"),
    ("protocolSection", "statusModule", "overallStatus"),
    ("protocolSection", "statusModule", "startDateStruct"),
    ("protocolSection", "designModule", "phases"),
    ("protocolSection", "eligibilityModule", "minimumAge"),
    ("protocolSection", "eligibilityModule", "eligibilityCriteria"),
    ("protocolSection", "conditionsModule", "conditions"),
    ("protocolSection", "contactsLocationsModule", "locations"),
    ("protocolSection", "armsInterventionsModule", "interventions"),
    ("derivedSection", "conditionBrowseModule", "meshes"),
    ("protocolSection", "designModule"),
]
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


@FUZZ
@given(path=st.sampled_from(PATHS), value=JSON_VALUES)
def test_the_importer_skips_any_malformed_record_whole(path, value):
    import copy

    from trials.importer import Importer
    from trials.models import Trial

    TRIED["importer records"] += 1
    record = copy.deepcopy(RECORD)
    record["protocolSection"]["identificationModule"]["nctId"] = "NCT88888888"
    target = record
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    errors = []
    stats = Importer(on_error=lambda label, message: errors.append(message)).run([("fuzz", record)])
    assert stats.created + stats.failed == 1
    if stats.failed:
        assert errors and not Trial.objects.filter(nct_id="NCT88888888").exists()
    Trial.objects.filter(nct_id="NCT88888888").delete()
