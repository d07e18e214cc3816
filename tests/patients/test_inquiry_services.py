"""patients.services: routing, the one-transaction creation, the workflow, replies."""

import re

import pytest
from django.core import mail, signing
from django.utils import formats, timezone, translation

from notifications.models import EmailStatus, OutgoingEmail
from notifications.tasks import deliver_email
from patients import services
from patients.models import EventKind, Inquiry, InquiryStatus, RoutedTo
from tests.patients.conftest import create, form_data
from trials.models import Contact, Site, Trial

pytestmark = pytest.mark.django_db


# --- routing --------------------------------------------------------------------------------


def test_it_routes_to_the_sites_own_contact():
    contact = (
        Contact.objects.filter(
            trial__nct_id="NCT06256588", site__status="RECRUITING", role="CONTACT"
        )
        .exclude(email="")
        .select_related("site")
        .first()
    )
    site = contact.site
    routed_to, address = services.inquiry_route(site=site)
    assert routed_to == RoutedTo.SITE_CONTACT
    expected = site.contacts.filter(role="CONTACT").exclude(email="").order_by("position")[0]
    assert address == expected.email


def test_it_prefers_the_contact_role_to_the_investigator(site_a):
    Contact.objects.create(
        trial=site_a.trial, site=site_a, role="PRINCIPAL_INVESTIGATOR", email="pi@hus.example"
    )
    Contact.objects.create(
        trial=site_a.trial, site=site_a, role="CONTACT", email="not an address", position=1
    )
    assert services.inquiry_route(site=site_a) == (RoutedTo.SITE_CONTACT, "pi@hus.example")
    Contact.objects.create(
        trial=site_a.trial, site=site_a, role="CONTACT", email="crc@hus.example", position=2
    )
    assert services.inquiry_route(site=site_a) == (RoutedTo.SITE_CONTACT, "crc@hus.example")


def test_it_routes_to_the_trial_contact_when_the_site_has_none():
    trial = Trial.objects.get(nct_id="NCT06129864")
    site = Site.objects.recruiting().filter(trial=trial, contacts=None).first()
    central = Contact.objects.filter(trial=trial, site=None).exclude(email="").first()
    assert site is not None and central is not None
    assert services.inquiry_route(site=site) == (RoutedTo.CENTRAL_CONTACT, central.email)


def test_it_routes_to_triage_when_neither_the_site_nor_the_trial_has_an_address(
    site_a, site_b, settings
):
    settings.TRIAGE_EMAIL = "triage@trialfinder.example"
    assert services.inquiry_route(site=site_a) == (RoutedTo.TRIAGE, "triage@trialfinder.example")
    assert services.inquiry_route(site=site_b) == (RoutedTo.TRIAGE, "triage@trialfinder.example")


def test_the_routing_decision_is_stored_and_used(site_a, alice, send_all):
    Contact.objects.create(trial=site_a.trial, site=None, role="CONTACT", email="cc@hus.example")
    inquiry = create(site_a, alice)
    assert (inquiry.routed_to, inquiry.routed_email) == (RoutedTo.CENTRAL_CONTACT, "cc@hus.example")
    assert {m.to[0] for m in send_all()} == {"cc@hus.example", alice["email"]}


# --- creation -------------------------------------------------------------------------------


def test_the_inquiry_its_event_and_its_two_emails_are_written_together(
    site_a, alice, monkeypatch, django_capture_on_commit_callbacks
):
    handed = []
    monkeypatch.setattr(deliver_email, "delay", lambda email_id: handed.append(email_id))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        inquiry = create(site_a, alice)
        assert handed == []  # nothing leaves before commit
    assert len(callbacks) == 2
    rows = OutgoingEmail.objects.filter(erase_key=f"inquiry:{inquiry.public_id}")
    assert sorted(handed) == sorted(rows.values_list("id", flat=True))
    assert [e.kind for e in inquiry.events.all()] == [
        EventKind.SUBMITTED,
        EventKind.EMAIL,
        EventKind.EMAIL,
    ]


def test_when_an_email_cannot_be_written_nothing_is_saved(site_a, alice, monkeypatch):
    real = services.queue_email

    def failing(name, **kwargs):
        if name == "inquiry-copy":
            raise RuntimeError("template broken")
        return real(name, **kwargs)

    monkeypatch.setattr(services, "queue_email", failing)
    with pytest.raises(RuntimeError):
        create(site_a, alice)
    assert Inquiry.objects.count() == 0
    assert OutgoingEmail.objects.count() == 0


def test_it_refuses_a_closed_trial_or_a_site_not_recruiting(site_a, site_b, alice):
    with pytest.raises(services.InquiryRefused):
        services.inquiry_create(
            trial=site_a.trial,
            site=site_b,
            data=form_data(alice),
            language="en",
            consent_text="x",
            consent_version="v",
        )
    Site.objects.filter(pk=site_a.pk).update(status="COMPLETED")
    site_a.refresh_from_db()
    with pytest.raises(services.InquiryRefused):
        create(site_a, alice)
    Trial.objects.filter(pk=site_b.trial_id).update(overall_status="TERMINATED")
    site_b.refresh_from_db()
    with pytest.raises(services.InquiryRefused):
        create(site_b, alice)
    assert Inquiry.objects.count() == 0


def test_the_site_email_has_the_details_the_answers_and_the_admin_link(
    site_a, alice, send_all, settings
):
    prescreen = {
        "result": "may_not_be_eligible",
        "answers": [
            {
                "kind": "age",
                "question": "How old are you?",
                "answer": "54",
                "suggests_eligible": True,
            },
            {
                "kind": "question",
                "question": "Are you pregnant or breastfeeding?",
                "answer": "yes",
                "suggests_eligible": False,
            },
        ],
    }
    inquiry = create(site_a, alice, prescreen=prescreen, preferred_language="it")
    (to_site,) = [m for m in send_all() if m.to == [settings.TRIAGE_EMAIL]]
    assert "NCT05738187" in to_site.subject and "Alice" not in to_site.subject
    html = to_site.alternatives[0][0]
    for part in (to_site.body, html):
        assert "Alice" in part and "Martin" in part
        assert alice["email"] in part and "+33612345678" in part
        assert "Italiano" in part  # preferred language
        assert "Puis-je participer" in part
        assert "Are you pregnant or breastfeeding?" in part
        assert f"http://testserver/admin/patients/inquiry/{inquiry.pk}/change/" in part
        assert "triage inbox" in part  # the seed trial lists no address
    assert to_site.reply_to == [alice["email"]]
    assert "J&#x27;ai" not in to_site.body  # the text part is not HTML-escaped


@pytest.mark.parametrize(("fixture", "language"), [("site_a", "fr"), ("site_b", "it")])
def test_the_site_email_is_in_the_sites_language_when_it_has_its_own_address(
    request, alice, fixture, language, send_all
):
    site = request.getfixturevalue(fixture)
    Contact.objects.create(trial=site.trial, site=site, role="CONTACT", email="crc@site.example")
    inquiry = create(site, alice)
    email = OutgoingEmail.objects.get(template="inquiry-to-site", erase_key=inquiry.erase_key)
    assert email.language == language
    (message,) = [m for m in send_all() if m.to == ["crc@site.example"]]
    assert message.extra_headers["Content-Language"] == language
    with translation.override(language):
        date = formats.date_format(timezone.localtime(inquiry.created_at), "DATETIME_FORMAT")
    assert date in message.body  # rendered in the site's language
    assert f'<html lang="{language}">' in message.alternatives[0][0]


def test_the_triage_email_is_in_english(site_a, alice):
    inquiry = create(site_a, alice)
    email = OutgoingEmail.objects.get(template="inquiry-to-site", erase_key=inquiry.erase_key)
    assert email.language == "en"


SENT_TO_TEAM = {
    "en": "We have sent your contact details to the research team at IRCCS Humanitas",
    "fr": "Nous avons transmis vos coordonnées",
    "it": "Abbiamo inviato i tuoi recapiti",
}


@pytest.mark.parametrize("language", ["en", "fr", "it"])
def test_the_patient_copy_is_in_their_language_and_links_to_withdrawal(
    site_b, alice, send_all, language
):
    inquiry = create(site_b, alice, language="en", preferred_language=language)
    (copy,) = [m for m in send_all() if m.to == [alice["email"]]]
    assert copy.extra_headers["Content-Language"] == language
    assert f'<html lang="{language}">' in copy.alternatives[0][0]
    assert "IRCCS Humanitas Research Hospital" in copy.subject
    for part in (copy.body, copy.alternatives[0][0]):
        # The link opens the page in the patient's language, whoever opens it.
        prefix = "" if language == "en" else f"/{language}"
        withdraw = rf"http://testserver{prefix}/inquiries/withdraw/([^/\s\"]+)/"
        token = re.search(withdraw, part).group(1)
        assert signing.loads(token, salt=services.WITHDRAW_SALT) == str(inquiry.public_id)
        assert SENT_TO_TEAM[language] in part
        assert "Puis-je participer" in part  # the copy of their message


# --- the workflow ---------------------------------------------------------------------------


@pytest.fixture
def inquiry(site_a, alice, monkeypatch):
    monkeypatch.setattr(deliver_email, "delay", lambda email_id: None)
    return create(site_a, alice)


def test_every_status_change_is_recorded_with_who_when_from_and_to(inquiry, bob):
    for status in (InquiryStatus.CONTACTED, InquiryStatus.PRESCREENING, InquiryStatus.REFERRED):
        services.inquiry_change_status(inquiry=inquiry, to_status=status, actor=bob)
    services.inquiry_change_status(
        inquiry=inquiry, to_status=InquiryStatus.ENROLLED, actor=bob, note="Screening passed."
    )
    moves = [
        (e.actor, e.from_status, e.to_status, e.text)
        for e in inquiry.events.filter(kind=EventKind.STATUS_CHANGE)
    ]
    assert moves == [
        (bob, "new", "contacted", ""),
        (bob, "contacted", "prescreening", ""),
        (bob, "prescreening", "referred", ""),
        (bob, "referred", "enrolled", "Screening passed."),
    ]
    inquiry.refresh_from_db()
    assert inquiry.status == InquiryStatus.ENROLLED and inquiry.closed_at is not None


@pytest.mark.parametrize(
    ("start", "target"),
    [
        ("new", "enrolled"),  # enrolment comes after the screening visit
        ("new", "withdrawn"),  # only the patient withdraws
        ("contacted", "new"),
        ("referred", "contacted"),
        ("withdrawn", "contacted"),
    ],
)
def test_it_refuses_a_move_the_workflow_does_not_allow(inquiry, bob, start, target):
    Inquiry.objects.filter(pk=inquiry.pk).update(status=start)
    with pytest.raises(services.TransitionRefused):
        services.inquiry_change_status(inquiry=inquiry, to_status=target, actor=bob)
    inquiry.refresh_from_db()
    assert inquiry.status == start


def test_first_contact_is_the_first_move_out_of_new(inquiry, bob):
    services.inquiry_change_status(inquiry=inquiry, to_status="not_eligible", actor=bob)
    inquiry.refresh_from_db()
    first = inquiry.first_contacted_at
    assert first is not None and inquiry.closed_at is not None
    services.inquiry_change_status(inquiry=inquiry, to_status="contacted", actor=bob)
    inquiry.refresh_from_db()
    assert inquiry.first_contacted_at == first
    assert inquiry.closed_at is None  # reopened: the retention clock stops


def test_it_assigns_only_to_a_coordinator_of_the_site(inquiry, bob, charlie):
    services.inquiry_assign(inquiry=inquiry, assignee=bob, actor=bob)
    with pytest.raises(services.TransitionRefused):
        services.inquiry_assign(inquiry=inquiry, assignee=charlie, actor=bob)
    inquiry.refresh_from_db()
    assert inquiry.assignee == bob
    event = inquiry.events.get(kind=EventKind.ASSIGNMENT)
    assert (event.actor, event.text) == (bob, "bob")


def test_a_reply_goes_through_the_outbox_and_the_timeline(inquiry, bob, send_all):
    email = services.inquiry_reply(
        inquiry=inquiry, actor=bob, message="Bonjour, pouvez-vous nous appeler ?"
    )
    assert email.template == "inquiry-reply" and email.erase_key == inquiry.erase_key
    (reply,) = [m for m in send_all() if "Bonjour, pouvez-vous nous appeler ?" in m.body]
    assert reply.to == [inquiry.email]
    assert reply.reply_to == [bob.email]
    assert "Bonjour, pouvez-vous nous appeler ?" in reply.body
    event = inquiry.events.get(kind=EventKind.REPLY)
    assert (event.actor, event.email_id) == (bob, email.id)
    inquiry.refresh_from_db()
    assert inquiry.status == InquiryStatus.CONTACTED  # a reply is a first contact
    assert inquiry.first_contacted_at is not None


def test_a_note_is_recorded(inquiry, bob):
    services.inquiry_add_note(inquiry=inquiry, actor=bob, text="Left a voicemail.")
    assert inquiry.events.get(kind=EventKind.NOTE).text == "Left a voicemail."


def test_mark_contacted_skips_what_is_not_new(inquiry, bob, site_a, alice, monkeypatch):
    other = create(site_a, alice)
    services.inquiry_change_status(inquiry=other, to_status="contacted", actor=bob)
    count = services.inquiries_mark_contacted(inquiries=Inquiry.objects.all(), actor=bob)
    assert count == 1
    assert set(Inquiry.objects.values_list("status", flat=True)) == {"contacted"}


def test_an_email_row_is_never_sent_twice(inquiry):
    row = OutgoingEmail.objects.filter(erase_key=inquiry.erase_key).first()
    assert deliver_email(row.id) == "sent"
    assert deliver_email(row.id) == "skipped"
    assert len(mail.outbox) == 1
    row.refresh_from_db()
    assert row.status == EmailStatus.SENT
