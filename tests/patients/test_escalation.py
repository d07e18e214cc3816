"""Escalation of unanswered inquiries, by the hourly beat task with time travel: the site's
other coordinators after its response deadline (working days), the TrialFinder team a working
day later, the patient told once; duplicates and repeated runs send nothing more."""

import datetime

import pytest
import time_machine
from django.conf import settings
from django.core import mail

from notifications.models import OutgoingEmail
from patients import services, tasks
from patients.models import EventKind, InquiryStatus
from tests.conftest import coordinator
from tests.patients.conftest import create

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
FRIDAY_AFTERNOON = datetime.datetime(2026, 3, 6, 15, 0, tzinfo=UTC)


def at(day: int, hour: int, minute: int = 0) -> datetime.datetime:
    """A moment in the week of FRIDAY_AFTERNOON (6 = that Friday, 10 = the next Tuesday)."""
    return datetime.datetime(2026, 3, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def fanned_out(monkeypatch):
    calls = []
    monkeypatch.setattr(tasks.escalate_inquiry, "delay", lambda *args: calls.append(args))
    return calls


def beat(fanned_out, moment) -> list[int]:
    """The hourly beat at `moment`, then each task it fanned out; the levels they reached."""
    with time_machine.travel(moment, tick=False):
        fanned_out.clear()
        tasks.escalate_overdue_inquiries()
        return [tasks.escalate_inquiry(*args) for args in list(fanned_out)]


def sent(template: str) -> list[OutgoingEmail]:
    return list(OutgoingEmail.objects.filter(template=template))


@pytest.fixture
def friday_inquiry(site_a, alice, bob, send_all):
    coordinator("bob2", site_a)
    with time_machine.travel(FRIDAY_AFTERNOON, tick=False):
        inquiry = create(site_a, alice)
    send_all()
    mail.outbox.clear()
    return inquiry


def test_a_friday_afternoon_inquiry_escalates_on_tuesday_afternoon(
    fanned_out,
    friday_inquiry,
    bob,
    send_all,
):
    for moment in (at(7, 15), at(8, 23), at(9, 15, 30), at(10, 14, 59)):
        assert beat(fanned_out, moment) == [], moment  # the weekend does not count
    assert beat(fanned_out, at(10, 15, 30)) == [1]

    friday_inquiry.refresh_from_db()
    assert friday_inquiry.escalation_level == 1
    assert friday_inquiry.escalated_at == at(10, 15, 30)
    assert friday_inquiry.events.filter(kind=EventKind.REMINDED).count() == 1
    reminders = sent("inquiry-reminder")
    assert sorted(e.to_email for e in reminders) == [
        "bob2@site.example.org",
        "bob@site.example.org",
    ]
    (chasing,) = sent("inquiry-chasing")
    assert chasing.to_email == "alice.martin@example.org"
    assert chasing.language == "fr"
    assert "/inquiries/status/" in chasing.body_text
    assert not sent("inquiry-escalated")


def test_the_trialfinder_team_hears_a_working_day_after_the_reminder(fanned_out, friday_inquiry):
    assert beat(fanned_out, at(10, 15, 30)) == [1]
    assert beat(fanned_out, at(11, 15, 29)) == []
    assert beat(fanned_out, at(11, 15, 31)) == [2]
    friday_inquiry.refresh_from_db()
    assert friday_inquiry.escalation_level == 2
    (escalated,) = sent("inquiry-escalated")
    assert escalated.to_email == settings.TRIAGE_EMAIL
    assert "coordinators were reminded on" in escalated.body_text
    assert len(sent("inquiry-chasing")) == 1  # the patient is told only once
    assert friday_inquiry.events.filter(kind=EventKind.ESCALATED).count() == 1
    # Nothing more, ever.
    assert beat(fanned_out, at(12, 16)) == [] and beat(fanned_out, at(20, 16)) == []


def test_a_duplicate_task_or_a_second_run_sends_nothing_more(fanned_out, friday_inquiry):
    with time_machine.travel(at(10, 15, 30), tick=False):
        tasks.escalate_overdue_inquiries()
        assert fanned_out == [(friday_inquiry.pk, 0)]
        assert tasks.escalate_inquiry(friday_inquiry.pk, 0) == 1
        assert tasks.escalate_inquiry(friday_inquiry.pk, 0) == 0  # redelivered
        fanned_out.clear()
        tasks.escalate_overdue_inquiries()
        assert fanned_out == []
    with time_machine.travel(at(11, 16), tick=False):
        assert tasks.escalate_inquiry(friday_inquiry.pk, 1) == 2
        assert tasks.escalate_inquiry(friday_inquiry.pk, 1) == 0
    assert len(sent("inquiry-reminder")) == 2
    assert len(sent("inquiry-chasing")) == 1
    assert len(sent("inquiry-escalated")) == 1


def test_every_email_is_delivered_once(fanned_out, friday_inquiry, send_all):
    beat(fanned_out, at(10, 15, 30))
    beat(fanned_out, at(11, 16))
    beat(fanned_out, at(11, 17))
    delivered = send_all()
    assert sorted(m.to[0] for m in delivered) == sorted(
        [
            "bob@site.example.org",
            "bob2@site.example.org",
            "alice.martin@example.org",
            settings.TRIAGE_EMAIL,
        ]
    )
    count = len(delivered)
    assert len(send_all()) == count  # nothing new: each row was claimed once


def test_emails_to_the_team_carry_no_health_details(fanned_out, site_a, alice, bob):
    coordinator("bob2", site_a)
    prescreen = {
        "result": "may_not_be_eligible",
        "answers": [
            {
                "kind": "question",
                "question": "Pregnant?",
                "answer": "yes",
                "suggests_eligible": False,
            }
        ],
    }
    with time_machine.travel(FRIDAY_AFTERNOON, tick=False):
        create(site_a, alice, prescreen=prescreen)
    beat(fanned_out, at(10, 16))
    beat(fanned_out, at(11, 17))
    for email in sent("inquiry-reminder") + sent("inquiry-escalated"):
        for private in ("Alice", "Martin", "alice.martin@", "+336", "cancer ORL", "Pregnant"):
            assert private not in email.body_text + email.body_html + email.subject, private
        assert "/admin/patients/inquiry/" in email.body_text


def test_only_the_other_coordinators_are_reminded(fanned_out, friday_inquiry, bob):
    services.inquiry_assign(inquiry=friday_inquiry, assignee=bob, actor=bob)
    assert beat(fanned_out, at(10, 16)) == [1]
    assert [e.to_email for e in sent("inquiry-reminder")] == ["bob2@site.example.org"]


def test_without_another_coordinator_it_goes_to_the_trialfinder_team_at_once(
    fanned_out, site_a, alice, bob
):
    with time_machine.travel(FRIDAY_AFTERNOON, tick=False):
        inquiry = create(site_a, alice)
    services.inquiry_assign(inquiry=inquiry, assignee=bob, actor=bob)
    assert beat(fanned_out, at(10, 16)) == [2]
    assert not sent("inquiry-reminder")
    (escalated,) = sent("inquiry-escalated")
    assert "no other coordinator in TrialFinder" in escalated.body_text
    assert len(sent("inquiry-chasing")) == 1
    assert beat(fanned_out, at(11, 17)) == []


def test_a_site_without_coordinators_goes_to_the_trialfinder_team(fanned_out, site_b, alice):
    with time_machine.travel(FRIDAY_AFTERNOON, tick=False):
        create(site_b, alice)
    assert beat(fanned_out, at(10, 16)) == [2]
    assert len(sent("inquiry-escalated")) == 1 and len(sent("inquiry-chasing")) == 1


def test_an_answered_inquiry_is_not_escalated(fanned_out, friday_inquiry, bob):
    with time_machine.travel(at(9, 10), tick=False):
        services.inquiry_change_status(
            inquiry=friday_inquiry, to_status=InquiryStatus.CONTACTED, actor=bob
        )
    assert beat(fanned_out, at(10, 16)) == []
    assert beat(fanned_out, at(11, 17)) == []
    assert not sent("inquiry-reminder") and not sent("inquiry-chasing")


def test_an_answer_after_the_reminder_stops_the_escalation(fanned_out, friday_inquiry, bob):
    assert beat(fanned_out, at(10, 16)) == [1]
    with time_machine.travel(at(10, 17), tick=False):
        services.inquiry_reply(inquiry=friday_inquiry, actor=bob, message="Sorry for the wait.")
    assert beat(fanned_out, at(11, 17)) == []
    assert not sent("inquiry-escalated")


def test_the_sites_own_deadline_applies(fanned_out, friday_inquiry, site_a):
    site_a.response_business_days = 4
    site_a.save()
    assert beat(fanned_out, at(10, 16)) == []
    assert beat(fanned_out, at(12, 14, 59)) == []
    assert beat(fanned_out, at(12, 15, 1)) == [1]  # Thursday afternoon


def test_a_withdrawn_inquiry_is_not_escalated(fanned_out, friday_inquiry):
    services.inquiry_withdraw(inquiry=friday_inquiry)
    assert beat(fanned_out, at(10, 16)) == []
    assert not sent("inquiry-chasing")


def test_inquiries_older_than_a_month_are_left_to_the_overdue_list(fanned_out, friday_inquiry):
    assert beat(fanned_out, FRIDAY_AFTERNOON + datetime.timedelta(days=31)) == []
    assert not sent("inquiry-chasing")


def test_the_timeline_shows_each_level(admin_client, fanned_out, friday_inquiry):
    beat(fanned_out, at(10, 16))
    beat(fanned_out, at(11, 17))
    html = admin_client.get(f"/admin/patients/inquiry/{friday_inquiry.pk}/change/").content
    html = html.decode()
    assert "Reminder to the site&#x27;s coordinators" in html
    assert "Escalated to the TrialFinder team" in html
    assert "“We are chasing it” to the patient" in html
