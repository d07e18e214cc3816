"""/inquiries/withdraw/<signed token>/: the patient withdraws; their data is erased; the team
is told (without any personal data)."""

import datetime

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from notifications import emails
from notifications.models import EmailStatus, OutgoingEmail
from notifications.tasks import deliver_email
from patients import services
from patients.models import EventKind, InquiryStatus
from tests.patients.conftest import create

pytestmark = pytest.mark.django_db


@pytest.fixture
def inquiry(site_a, alice, monkeypatch):
    monkeypatch.setattr(deliver_email, "delay", lambda email_id: None)
    prescreen = {
        "result": "may_be_eligible",
        "age": 54,
        "answers": [{"kind": "age", "question": "Age?", "answer": "54", "suggests_eligible": True}],
    }
    return create(site_a, alice, prescreen=prescreen)


def url(inquiry) -> str:
    return f"/inquiries/withdraw/{services.withdraw_token(inquiry)}/"


def deliver_all():
    for email_id in OutgoingEmail.objects.filter(status=EmailStatus.QUEUED).values_list(
        "id", flat=True
    ):
        emails.deliver(email_id)


def test_the_link_asks_before_withdrawing(client, inquiry):
    response = client.get(url(inquiry))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Withdraw my inquiry" in html and "University Hospital, Strasbourg" in html
    assert "Alice" not in html  # a forwarded link shows no personal data
    inquiry.refresh_from_db()
    assert inquiry.status == InquiryStatus.NEW and not inquiry.is_erased


def test_withdrawing_erases_the_patients_data_and_tells_the_site(client, inquiry, bob):
    deliver_all()  # the team and the patient got their emails
    services.inquiry_add_note(inquiry=inquiry, actor=bob, text="Called Alice Martin.")
    mail.outbox.clear()

    response = client.post(url(inquiry))
    assert response.status_code == 302
    assert "erased" in client.get(response["Location"]).content.decode()

    inquiry.refresh_from_db()
    assert inquiry.status == InquiryStatus.WITHDRAWN
    assert inquiry.is_erased and inquiry.closed_at is not None
    for field in services.PERSONAL_FIELDS:
        assert getattr(inquiry, field) == ""
    assert inquiry.prescreen == {"result": "may_be_eligible"}
    # What the statistics need stays.
    assert inquiry.site.trial.nct_id == "NCT05738187" and inquiry.routed_to == "triage"
    assert inquiry.events.get(kind=EventKind.NOTE).text == ""
    kinds = list(inquiry.events.values_list("kind", flat=True))
    assert EventKind.WITHDRAWN in kinds and EventKind.ERASED in kinds

    # The emails that carried the data are scrubbed.
    for row in OutgoingEmail.objects.filter(erase_key=inquiry.erase_key):
        assert (row.to_email, row.reply_to, row.subject, row.body_text, row.body_html) == (
            "",
            "",
            "",
            "",
            "",
        )
    # The team is told, without any personal data.
    notice = OutgoingEmail.objects.get(template="inquiry-withdrawn")
    assert notice.to_email == inquiry.routed_email
    deliver_all()
    (message,) = mail.outbox
    assert f"#{inquiry.pk}" in message.subject
    assert "withdrawn it and does not wish to be contacted" in message.body
    for value in ("Alice", "Martin", "alice.martin", "612345678", "traitée"):
        assert value not in message.body and value not in message.alternatives[0][0]


def test_a_withdrawal_before_the_team_got_the_email_cancels_it_and_tells_nobody(client, inquiry):
    client.post(url(inquiry))
    rows = OutgoingEmail.objects.filter(erase_key=inquiry.erase_key)
    assert set(rows.values_list("status", flat=True)) == {EmailStatus.CANCELLED}
    assert not OutgoingEmail.objects.filter(template="inquiry-withdrawn").exists()
    deliver_all()
    assert mail.outbox == []


def test_withdrawing_twice_changes_nothing_more(client, inquiry):
    client.post(url(inquiry))
    events = inquiry.events.count()
    response = client.post(url(inquiry))
    assert response.status_code == 200
    assert "Your inquiry is withdrawn" in response.content.decode()
    assert inquiry.events.count() == events


@pytest.mark.parametrize(
    "mangle",
    [
        lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        lambda token: "x" + token,
        lambda token: "not-a-token",
    ],
)
def test_a_tampered_link_changes_nothing(client, inquiry, mangle):
    token = mangle(services.withdraw_token(inquiry))
    for method in (client.get, client.post):
        response = method(f"/inquiries/withdraw/{token}/")
        assert response.status_code == 400
        assert "This link does not work" in response.content.decode()
    inquiry.refresh_from_db()
    assert inquiry.status == InquiryStatus.NEW and not inquiry.is_erased


def test_an_expired_link_changes_nothing(client, inquiry):
    link = url(inquiry)
    later = timezone.now() + services.WITHDRAW_MAX_AGE + datetime.timedelta(days=1)
    with time_machine.travel(later):
        response = client.post(link)
    assert response.status_code == 400
    inquiry.refresh_from_db()
    assert not inquiry.is_erased


def test_a_link_signed_for_something_else_does_not_work(client, inquiry):
    from django.core import signing

    token = signing.dumps(str(inquiry.public_id), salt="another.purpose")
    assert client.post(f"/inquiries/withdraw/{token}/").status_code == 400
    inquiry.refresh_from_db()
    assert not inquiry.is_erased


def test_a_coordinator_cannot_reply_to_a_withdrawn_inquiry(client, inquiry, bob):
    client.post(url(inquiry))
    with pytest.raises(services.TransitionRefused):
        services.inquiry_reply(inquiry=inquiry, actor=bob, message="Hello?")
