"""Retention: the personal data of closed inquiries is erased after INQUIRY_RETENTION_DAYS by a
daily beat task; the anonymous rows stay for the statistics."""

import datetime

import pytest
import time_machine
from django.conf import settings as django_settings
from django.utils import timezone

from notifications.models import OutgoingEmail
from notifications.tasks import deliver_email
from patients import services, stats
from patients.models import Inquiry, InquiryStatus
from patients.tasks import erase_expired_inquiries, erase_inquiry
from tests.patients.conftest import create

pytestmark = pytest.mark.django_db


@pytest.fixture
def handed(monkeypatch):
    monkeypatch.setattr(deliver_email, "delay", lambda email_id: None)
    ids = []
    monkeypatch.setattr(erase_inquiry, "delay", lambda inquiry_id: ids.append(inquiry_id))
    return ids


def closed_inquiry(site, alice, bob, *, days_ago: int, status="not_eligible") -> Inquiry:
    past = timezone.now() - datetime.timedelta(days=days_ago)
    with time_machine.travel(past, tick=False):
        inquiry = create(site, alice)
        services.inquiry_change_status(inquiry=inquiry, to_status=status, actor=bob)
    inquiry.refresh_from_db()
    return inquiry


def run_beat(handed):
    erase_expired_inquiries()
    for inquiry_id in handed:
        erase_inquiry(inquiry_id)


def test_the_beat_runs_retention_daily():
    entry = django_settings.CELERY_BEAT_SCHEDULE["erase-expired-inquiries"]
    assert entry == {"task": "patients.tasks.erase_expired_inquiries", "schedule": 86400.0}
    assert django_settings.INQUIRY_RETENTION_DAYS == 365


def test_closed_inquiries_are_erased_after_the_retention_period_keeping_statistics(
    site_a, alice, bob, handed
):
    old = closed_inquiry(site_a, alice, bob, days_ago=400)
    run_beat(handed)
    assert handed == [old.pk]
    old.refresh_from_db()
    assert old.is_erased
    assert (old.first_name, old.email, old.phone, old.message) == ("", "", "", "")
    assert old.status == InquiryStatus.NOT_ELIGIBLE and old.first_contacted_at is not None
    rows = OutgoingEmail.objects.filter(erase_key=old.erase_key)
    assert rows.exists() and not rows.exclude(to_email="").exists()
    # The statistics still count it.
    (figure,) = stats.response_times([site_a])
    assert dict(figure.by_status)["Not eligible"] == 1


def test_open_recent_and_already_erased_inquiries_are_kept(site_a, alice, bob, handed):
    recent = closed_inquiry(site_a, alice, bob, days_ago=30)
    with time_machine.travel(timezone.now() - datetime.timedelta(days=800), tick=False):
        still_open = create(site_a, alice)
    run_beat(handed)
    assert handed == []
    for inquiry in (recent, still_open):
        inquiry.refresh_from_db()
        assert not inquiry.is_erased


def test_the_retention_period_is_configurable(site_a, alice, bob, handed, settings):
    inquiry = closed_inquiry(site_a, alice, bob, days_ago=31)
    settings.INQUIRY_RETENTION_DAYS = 30
    run_beat(handed)
    inquiry.refresh_from_db()
    assert inquiry.is_erased


def test_an_inquiry_reopened_after_it_was_picked_is_not_erased(site_a, alice, bob, handed):
    inquiry = closed_inquiry(site_a, alice, bob, days_ago=400)
    erase_expired_inquiries()
    services.inquiry_change_status(inquiry=inquiry, to_status="contacted", actor=bob)
    assert erase_inquiry(inquiry.pk) is False
    inquiry.refresh_from_db()
    assert not inquiry.is_erased


def test_erasing_twice_is_harmless(site_a, alice, bob, handed):
    inquiry = closed_inquiry(site_a, alice, bob, days_ago=400)
    assert erase_inquiry(inquiry.pk) is True
    assert erase_inquiry(inquiry.pk) is False
