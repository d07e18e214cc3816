"""Patient data through a whole inquiry: never in logs, never in URLs, in emails only to the
site and the patient, and gone from every table once the patient withdraws."""

import logging
import re

import pytest
from django.core import mail

from notifications.emails import deliver
from notifications.models import EmailStatus, OutgoingEmail
from notifications.tasks import deliver_email
from patients import services
from patients.models import Inquiry, InquiryStatus
from tests.conftest import ZEYNEP
from tests.notes.helpers import database_rows_containing

pytestmark = pytest.mark.django_db

SECRETS = [
    "Zeynep",
    "Quillfeather",
    "zq-7731",
    "671234589",
    "6 71 23 45 89",
    "recurrence-detail-8831",
]


def send_everything():
    for email in OutgoingEmail.objects.filter(status=EmailStatus.QUEUED):
        deliver(email.id)


def test_a_whole_inquiry_leaves_no_patient_data_where_it_should_not(
    client, site_a, bob, caplog, monkeypatch
):
    monkeypatch.setattr(deliver_email, "delay", lambda email_id: None)
    with caplog.at_level(logging.DEBUG):
        response = client.post(
            "/trials/NCT05738187/contact/?near=Strasbourg", {**ZEYNEP, "site": site_a.pk}
        )
        assert response.status_code == 302
        locations = [response["Location"]]
        inquiry = Inquiry.objects.get()
        send_everything()
        services.inquiry_change_status(
            inquiry=inquiry, to_status=InquiryStatus.CONTACTED, actor=bob
        )
        services.inquiry_reply(inquiry=inquiry, actor=bob, message="Please call us, Zeynep.")
        send_everything()
        page = client.get(locations[0])
        assert page.status_code == 200

    # 1. Never in logs.
    for secret in SECRETS:
        assert secret not in caplog.text, secret

    # 2. Never in URLs: redirects and every link of every email.
    links = [u for m in mail.outbox for u in re.findall(r"https?://[^\s\"'<>]+", m.body)]
    for url in locations + links:
        for secret in SECRETS:
            assert secret not in url, (secret, url)

    # 3. In emails only to the site (its routed address) and to the patient.
    allowed = {inquiry.routed_email, ZEYNEP["email"]}
    for message in mail.outbox:
        text = message.body + "".join(part for part, _ in message.alternatives)
        if any(secret in text for secret in SECRETS):
            assert set(message.to) <= allowed, message.to

    # 4. Withdrawal erases every copy: inquiry, timeline, outbox rows, anywhere in the database.
    token = services.withdraw_token(inquiry)
    assert client.post(f"/inquiries/withdraw/{token}/").status_code in (200, 302)
    for secret in SECRETS:
        assert database_rows_containing(secret) == [], secret


def test_retention_erases_every_copy_too(site_a, bob, monkeypatch, settings):
    import datetime

    import time_machine
    from django.utils import timezone

    monkeypatch.setattr(deliver_email, "delay", lambda email_id: None)
    from tests.patients.conftest import create

    inquiry = create(site_a, ZEYNEP)
    send_everything()
    services.inquiry_change_status(inquiry=inquiry, to_status=InquiryStatus.CONTACTED, actor=bob)
    services.inquiry_change_status(
        inquiry=inquiry, to_status=InquiryStatus.NOT_ELIGIBLE, actor=bob, note="Zeynep: no"
    )
    later = timezone.now() + datetime.timedelta(days=settings.INQUIRY_RETENTION_DAYS + 1)
    with time_machine.travel(later):
        assert services.inquiry_erase_if_expired(inquiry_id=inquiry.id)
    for secret in SECRETS:
        assert database_rows_containing(secret) == [], secret
