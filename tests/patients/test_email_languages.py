"""Every email in its reader's language: the patient's (their pre-screening answers included,
dates as their language writes them), and each staff member's own, never the site's country's."""

import datetime

import pytest
import time_machine

from patients.models import RoutedTo, StaffProfile
from tests.conftest import coordinator
from tests.patients.conftest import create
from trials.models import Contact

pytestmark = pytest.mark.django_db

ENGLISH_PRESCREEN = {
    "age": 64,
    "sex": "",
    "result": "may_be_eligible",
    # Snapshot taken while the patient browsed in English.
    "answers": [
        {"kind": "age", "question": "How old are you?", "answer": "64", "suggests_eligible": True}
    ],
}
THURSDAY = datetime.datetime(2026, 12, 3, 15, 0, tzinfo=datetime.UTC)


@pytest.mark.parametrize(
    ("language", "question", "date"),
    [
        ("fr", "Quel âge avez-vous ?", "3 décembre 2026"),
        ("it", "Quanti anni hai?", "3 dicembre 2026"),
    ],
)
def test_the_patient_copy_is_entirely_in_their_language(
    site_b,
    alice,
    send_all,
    language,
    question,
    date,
):
    with time_machine.travel(THURSDAY, tick=False):
        create(site_b, alice, language="en", preferred_language=language,
               prescreen=ENGLISH_PRESCREEN)  # fmt: skip
    (copy,) = [m for m in send_all() if m.to == [alice["email"]]]
    for part in (copy.body, copy.alternatives[0][0]):
        assert "How old are you" not in part
        assert question.replace(" ?", "\u00a0?") in part or question in part
        assert date in part
        assert "Dicembre" not in part and "03 " not in part


def test_staff_get_emails_in_their_own_language_not_the_sites_country(
    site_a,
    alice,
    send_all,
):
    # site_a is in France; its contact address belongs to an Italian-speaking coordinator.
    user = coordinator("giulia", site_a)
    Contact.objects.create(trial=site_a.trial, site=site_a, role="CONTACT", email=user.email)
    StaffProfile.objects.create(user=user, email_language="it")
    assert create(site_a, alice, language="fr").routed_to == RoutedTo.SITE_CONTACT
    (to_team,) = [m for m in send_all() if m.to == [user.email]]
    assert to_team.extra_headers["Content-Language"] == "it"


def test_a_staff_members_email_language_defaults_to_the_admin_language(client, bob):
    bob.set_password("a-long-enough-password-1")
    bob.save()
    client.cookies["django_language"] = "fr"
    client.post("/admin/login/", {"username": bob.username,
                                  "password": "a-long-enough-password-1"})  # fmt: skip
    assert StaffProfile.objects.get(user=bob).email_language == "fr"


def test_a_staff_written_question_is_shown_in_the_patients_language(
    site_b,
    alice,
    send_all,
):
    from patients.forms import PrescreenForm
    from patients.models import PrescreenQuestion

    question = PrescreenQuestion.objects.create(
        trial=site_b.trial,
        text="Have you had radiotherapy?",
        text_it="Hai fatto la radioterapia?",
    )
    # Answered while browsing in English; the emails go out in Italian.
    form = PrescreenForm({f"pre-q{question.pk}": "yes"}, trial=site_b.trial, questions=[question])
    create(site_b, alice, language="en", preferred_language="it", prescreen=form.snapshot())
    (copy,) = [m for m in send_all() if m.to == [alice["email"]]]
    assert "Hai fatto la radioterapia?" in copy.body
    assert "Have you had radiotherapy" not in copy.body
