# ruff: noqa: RUF001 (French and Italian apostrophes)
"""The patient is kept informed: each coordinator move sends the staff-written email for that
status (when on), once, in the patient's language, with the link to their status page."""

import re

import pytest
from django.core import mail

from notifications.models import OutgoingEmail
from patients import services
from patients.models import EventKind, InquiryStatus, StatusEmail
from tests.patients.conftest import create

pytestmark = pytest.mark.django_db


def status_emails() -> list:
    return [
        m
        for m in mail.outbox
        if "/inquiries/status/" in m.body and m.to == ["alice.martin@example.org"]
    ]


def links_to_status_page(text: str, inquiry) -> bool:
    """The text links to this inquiry's status page (tokens carry a timestamp: compare what
    they name, not their text)."""
    found = re.search(r"/inquiries/status/([^/\s\"]+)/", text)
    return (
        bool(found)
        and services.inquiry_from_token(
            found.group(1), salt=services.STATUS_SALT, max_age=services.STATUS_MAX_AGE
        )
        == inquiry
    )


def html_of(message) -> str:
    return message.alternatives[0][0]


@pytest.fixture
def inquiry(site_a, alice, send_all):
    inquiry = create(site_a, alice)
    send_all()
    mail.outbox.clear()
    return inquiry


def move(inquiry, to_status, actor):
    return services.inquiry_change_status(inquiry=inquiry, to_status=to_status, actor=actor)


def test_each_move_sends_one_kind_email_in_the_patients_language(inquiry, bob, send_all):
    move(inquiry, InquiryStatus.CONTACTED, bob)
    sent = send_all()
    assert len(sent) == 1
    message = sent[0]
    assert message.to == ["alice.martin@example.org"]
    assert message.subject == "Votre demande\u00a0: l’équipe de recherche a pris contact"
    assert message.extra_headers["Content-Language"] == "fr"
    assert message.body.startswith("Bonjour Alice,")
    assert "L’équipe de recherche de University Hospital, Strasbourg" in message.body
    assert inquiry.trial.title in message.body
    assert links_to_status_page(message.body, inquiry)
    assert "/inquiries/withdraw/" in message.body
    assert "Bonjour Alice," in html_of(message)

    mail.outbox.clear()
    move(inquiry, InquiryStatus.PRESCREENING, bob)
    move(inquiry, InquiryStatus.REFERRED, bob)
    subjects = {m.subject for m in send_all()}
    assert subjects == {
        "Votre demande\u00a0: l’équipe vérifie si l’essai peut vous convenir",
        "Votre demande\u00a0: une visite de présélection",
    }
    status_mails = OutgoingEmail.objects.filter(template="inquiry-status")
    assert status_mails.count() == 3
    recorded = inquiry.events.filter(kind=EventKind.EMAIL, email__template="inquiry-status")
    assert recorded.count() == 3


def test_an_english_speaking_patient_gets_the_english_text(site_a, alice, bob, send_all):
    inquiry = create(site_a, alice, preferred_language="en", language="en")
    send_all()
    mail.outbox.clear()
    move(inquiry, InquiryStatus.CONTACTED, bob)
    (message,) = send_all()
    assert message.subject == "Your inquiry: the research team has been in touch"
    assert message.body.startswith("Hello Alice,")


def test_an_italian_patient_gets_the_italian_text(site_b, alice, charlie, send_all):
    inquiry = create(site_b, alice, preferred_language="it", language="it")
    send_all()
    mail.outbox.clear()
    move(inquiry, InquiryStatus.CONTACTED, charlie)
    move(inquiry, InquiryStatus.DECLINED, charlie)
    second, first = sorted(send_all(), key=lambda m: "chiusa" not in m.subject)
    # The interface's register, the informal "tu".
    assert first.subject == "La tua richiesta: il gruppo di ricerca ti ha contattato"
    assert first.body.startswith("Ciao Alice,")
    assert second.subject == "La tua richiesta è chiusa"


def test_the_text_staff_edited_is_the_one_sent(inquiry, bob, send_all, admin_client):
    text = StatusEmail.objects.get(status="contacted", language="fr")
    response = admin_client.post(
        f"/admin/patients/statusemail/{text.pk}/change/",
        {
            "enabled": "on",
            "subject": "Nouvelles de {site}",
            "body": "Bonjour {first_name},\n\nL’équipe de {site} vous a appelée ({nct_id}).",
        },
    )
    assert response.status_code == 302
    move(inquiry, InquiryStatus.CONTACTED, bob)
    (message,) = send_all()
    assert message.subject == "Nouvelles de University Hospital, Strasbourg"
    assert message.body.startswith(
        "Bonjour Alice,\n\nL’équipe de University Hospital, Strasbourg vous a appelée "
        "(NCT05738187)."
    )


def test_a_status_whose_email_is_off_sends_nothing(inquiry, bob, send_all):
    StatusEmail.objects.filter(status="contacted").update(enabled=False)
    move(inquiry, InquiryStatus.CONTACTED, bob)
    assert send_all() == []
    assert not OutgoingEmail.objects.filter(template="inquiry-status").exists()
    assert inquiry.events.filter(kind=EventKind.STATUS_CHANGE).count() == 1


def test_staff_text_is_escaped_in_html_and_never_run_as_a_template(inquiry, bob, send_all):
    StatusEmail.objects.filter(status="contacted", language="fr").update(
        subject="<b>Hi</b> {first_name}",
        body=(
            "<script>alert(1)</script> {first_name}\n"
            "{{ inquiry.email }} {% debug %} {first_name.__class__} {email} {0}"
        ),
    )
    move(inquiry, InquiryStatus.CONTACTED, bob)
    (message,) = send_all()
    html = html_of(message)
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; Alice" in html
    assert "{{ inquiry.email }} {% debug %} {first_name.__class__} {email} {0}" in message.body
    assert "alice.martin@example.org" not in message.body.split("http")[0]
    assert message.subject == "<b>Hi</b> Alice"  # a subject is plain text


def test_the_admin_refuses_an_unknown_placeholder(admin_client):
    text = StatusEmail.objects.get(status="enrolled", language="en")
    response = admin_client.post(
        f"/admin/patients/statusemail/{text.pk}/change/",
        {"enabled": "on", "subject": "Welcome", "body": "Hello {frist_name}"},
    )
    assert response.status_code == 200
    assert "Unknown placeholder: {frist_name}" in response.content.decode()
    text.refresh_from_db()
    assert "{frist_name}" not in text.body


def test_the_admin_lists_every_status_in_every_language(admin_client):
    response = admin_client.get("/admin/patients/statusemail/")
    assert response.status_code == 200
    assert response.context["cl"].result_count == 7 * 3
    for status in ("contacted", "prescreening", "referred", "enrolled", "not_eligible"):
        for language in ("en", "fr", "it"):
            assert StatusEmail.objects.filter(status=status, language=language, enabled=True)


def test_a_reply_that_makes_the_first_contact_sends_only_the_reply(inquiry, bob, send_all):
    services.inquiry_reply(inquiry=inquiry, actor=bob, message="Je vous appelle demain.")
    (message,) = send_all()
    assert "Je vous appelle demain." in message.body
    assert links_to_status_page(message.body, inquiry)
    inquiry.refresh_from_db()
    assert inquiry.status == InquiryStatus.CONTACTED
    assert not OutgoingEmail.objects.filter(template="inquiry-status").exists()


def test_marking_many_as_contacted_sends_each_patient_one_email(site_a, alice, bob, send_all):
    first = create(site_a, alice)
    second = create(site_a, alice, first_name="Anne", email="anne@example.org")
    send_all()
    mail.outbox.clear()
    from patients.models import Inquiry

    count = services.inquiries_mark_contacted(
        inquiries=Inquiry.objects.filter(pk__in=[first.pk, second.pk]), actor=bob
    )
    assert count == 2
    # Running it again moves nothing and sends nothing.
    services.inquiries_mark_contacted(
        inquiries=Inquiry.objects.filter(pk__in=[first.pk, second.pk]), actor=bob
    )
    sent = send_all()
    assert sorted(m.to[0] for m in sent) == ["alice.martin@example.org", "anne@example.org"]


def test_the_confirmation_copy_links_to_the_status_page(site_a, alice, send_all):
    inquiry = create(site_a, alice)
    copy = next(m for m in send_all() if m.to == [alice["email"]])
    assert links_to_status_page(copy.body, inquiry)
    assert links_to_status_page(html_of(copy), inquiry)


def test_status_emails_are_erased_with_the_patient(inquiry, bob, send_all):
    move(inquiry, InquiryStatus.CONTACTED, bob)
    send_all()
    services.inquiry_withdraw(inquiry=inquiry)
    row = OutgoingEmail.objects.get(template="inquiry-status")
    assert (row.to_email, row.body_text) == ("", "")
