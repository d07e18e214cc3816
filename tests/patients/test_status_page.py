"""/inquiries/status/<signed token>/: the patient's own inquiry, where it stands and what
happened, from the link in their emails; nothing of anyone else's, nothing internal."""

import datetime

import pytest
import time_machine
from django.core import signing
from django.utils import timezone

from notifications.tasks import deliver_email
from patients import services
from patients.models import InquiryStatus
from tests.patients.conftest import create

pytestmark = pytest.mark.django_db

PRESCREEN = {
    "result": "may_be_eligible",
    "age": 54,
    "answers": [
        {"kind": "age", "question": "How old are you?", "answer": "54", "suggests_eligible": True},
        {
            "kind": "question",
            "question": "Has your cancer come back after radiotherapy?",
            "answer": "yes",
            "suggests_eligible": True,
        },
    ],
}


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    monkeypatch.setattr(deliver_email, "delay", lambda email_id: None)


@pytest.fixture
def a_inquiry(site_a, alice):
    return create(site_a, alice, prescreen=PRESCREEN)


@pytest.fixture
def b_inquiry(site_b, alice):
    return create(
        site_b, alice, first_name="Beatrice", last_name="Rossi", email="beatrice@example.org"
    )


def url(inquiry) -> str:
    return f"/inquiries/status/{services.status_token(inquiry)}/"


def test_the_page_shows_where_the_inquiry_stands(client, a_inquiry):
    link = url(a_inquiry)
    response = client.get(link)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Your inquiry" in html
    assert "University Hospital, Strasbourg" in html and a_inquiry.trial.title in html
    assert "Sent to the research team" in html
    assert "You sent your message to the research team" in html
    assert "/inquiries/withdraw/" in html
    assert f'href="{link}print/"' in html


def test_it_is_private_uncached_and_unindexed(client, a_inquiry):
    response = client.get(url(a_inquiry))
    assert response["Referrer-Policy"] == "same-origin"
    assert "noindex" in response["X-Robots-Tag"]
    assert "no-store" in response["Cache-Control"]


def test_it_shows_only_that_inquiry(client, a_inquiry, b_inquiry):
    html = client.get(url(a_inquiry)).content.decode()
    assert "Strasbourg" in html
    assert "Rozzano" not in html and "IRCCS Humanitas" not in html
    assert b_inquiry.trial.title not in html
    other = client.get(url(b_inquiry)).content.decode()
    assert "IRCCS Humanitas Research Hospital" in other and "Strasbourg" not in other


def test_it_shows_no_personal_details_and_nothing_internal(client, a_inquiry, bob):
    services.inquiry_assign(inquiry=a_inquiry, assignee=bob, actor=bob)
    services.inquiry_add_note(inquiry=a_inquiry, actor=bob, text="Internal: seems eligible.")
    services.inquiry_reply(inquiry=a_inquiry, actor=bob, message="Private reply to Alice.")
    services.inquiry_change_status(
        inquiry=a_inquiry, to_status=InquiryStatus.PRESCREENING, actor=bob, note="Phoned her."
    )
    html = client.get(url(a_inquiry)).content.decode()
    for hidden in (
        "bob",
        "Internal: seems eligible.",
        "Private reply to Alice.",
        "Phoned her.",
        "Alice",
        "alice.martin@example.org",
        "+33612345678",
        "J&#x27;ai été traitée",
    ):
        assert hidden not in html, hidden
    assert "The research team wrote to you by email" in html
    assert "The research team has been in touch" in html
    assert "The team is checking whether the trial suits you" in html


def test_a_tampered_token_shows_nothing_of_the_inquiry(client, a_inquiry):
    token = services.status_token(a_inquiry)
    for bad in (token[:-3] + "xyz", token + "x", "nothing", token.replace(":", ".")):
        response = client.get(f"/inquiries/status/{bad}/")
        html = response.content.decode()
        assert response.status_code == 400
        assert "This link does not work" in html
        assert "Strasbourg" not in html and a_inquiry.trial.title not in html


def test_the_withdraw_token_does_not_open_the_status_page(client, a_inquiry):
    response = client.get(f"/inquiries/status/{services.withdraw_token(a_inquiry)}/")
    assert response.status_code == 400


def test_a_token_for_an_unknown_inquiry_shows_nothing(client):
    token = signing.dumps("3f1e1d4e-8a41-4c1b-9e2f-000000000000", salt=services.STATUS_SALT)
    assert client.get(f"/inquiries/status/{token}/").status_code == 400


def test_the_link_expires_after_three_years(client, a_inquiry):
    link = url(a_inquiry)
    with time_machine.travel(timezone.now() + datetime.timedelta(days=3 * 365 - 1)):
        assert client.get(link).status_code == 200
    with time_machine.travel(timezone.now() + datetime.timedelta(days=3 * 365 + 1)):
        assert client.get(link).status_code == 400


def test_after_withdrawal_it_says_so_and_holds_nothing(client, a_inquiry):
    link = url(a_inquiry)
    services.inquiry_withdraw(inquiry=a_inquiry)
    response = client.get(link)
    html = response.content.decode()
    assert response.status_code == 200
    assert "This inquiry was withdrawn" in html
    assert "Strasbourg" not in html and a_inquiry.trial.title not in html
    assert "/print/" not in html
    assert client.get(link + "print/").content.decode().count("How old are you?") == 0


def test_after_erasure_for_retention_it_holds_nothing(client, a_inquiry):
    services.inquiry_erase(inquiry=a_inquiry)
    html = client.get(url(a_inquiry)).content.decode()
    assert "personal details that went with it are erased" in html
    assert "Strasbourg" not in html


def test_the_print_version_has_the_answers_given_with_the_inquiry(client, a_inquiry):
    response = client.get(url(a_inquiry) + "print/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "My answers to the pre-screening questions" in html
    assert "Has your cancer come back after radiotherapy?" in html and "54" in html
    assert "Questions for my doctor" in html
    assert "no-store" in response["Cache-Control"]
    assert response["Referrer-Policy"] == "same-origin"


def test_a_patient_whose_inquiry_waits_is_told_we_chase_it(client, a_inquiry):
    a_inquiry.escalation_level = 1
    a_inquiry.save()
    html = client.get(url(a_inquiry)).content.decode()
    assert "we have reminded them" in html
