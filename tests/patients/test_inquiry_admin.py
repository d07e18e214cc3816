"""Inquiries in the admin: each coordinator sees and works on their sites' inquiries only.

bob coordinates site A (Strasbourg), charlie site B (Rozzano): charlie must see none of A's.
"""

import csv
import datetime
import io

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from notifications.models import OutgoingEmail
from notifications.tasks import deliver_email
from patients import services, stats
from patients.models import EventKind, Inquiry, InquiryStatus
from tests.patients.conftest import create, listed, login

pytestmark = pytest.mark.django_db

ADMIN = "/admin/patients/inquiry/"


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    monkeypatch.setattr(deliver_email, "delay", lambda email_id: None)


def test_coordinators_are_staff_in_the_coordinators_group(bob):
    group = Group.objects.get(name="Coordinators")
    assert bob.is_staff and group in bob.groups.all()
    assert bob.has_perm("patients.view_inquiry") and bob.has_perm("patients.change_inquiry")
    assert not bob.has_perm("patients.delete_inquiry")
    assert not bob.has_perm("notifications.view_outgoingemail")


def test_a_coordinator_lists_only_the_inquiries_of_their_sites(
    client, bob, charlie, a_inquiry, b_inquiry
):
    assert listed(login(client, bob).get(ADMIN)) == {a_inquiry.pk}
    html = login(client, charlie).get(ADMIN).content.decode()
    assert "Alice" not in html and "Beatrice" in html


def test_a_superuser_sees_every_inquiry(admin_client, a_inquiry, b_inquiry):
    assert listed(admin_client.get(ADMIN)) == {a_inquiry.pk, b_inquiry.pk}


def test_a_coordinator_without_sites_sees_nothing(client, a_inquiry):
    user = get_user_model().objects.create_user("dave", password="x", is_staff=True)
    from patients.roles import make_coordinator

    make_coordinator(user)
    assert listed(login(client, user).get(ADMIN)) == set()


@pytest.mark.parametrize(
    "page",
    ["{}/change/", "{}/history/", "{}/delete/", "{}/", "{}/workflow/note/"],
)
def test_another_sites_inquiry_is_404(client, charlie, a_inquiry, page):
    login(client, charlie)
    path = ADMIN + page.format(a_inquiry.pk)
    response = client.get(path, follow=False)
    assert response.status_code == 404 or (
        response.status_code == 302 and "/change/" in response["Location"] and page == "{}/"
    )
    if page == "{}/":
        assert client.get(path, follow=True).status_code == 404
    assert "Alice" not in response.content.decode()


@pytest.mark.parametrize("action", ["status", "assign", "note", "reply"])
def test_another_sites_inquiry_cannot_be_worked_on(client, charlie, a_inquiry, action):
    data = {"to_status": "contacted", "assignee": charlie.pk, "text": "x", "message": "x"}
    response = login(client, charlie).post(f"{ADMIN}{a_inquiry.pk}/workflow/{action}/", data)
    assert response.status_code == 404
    a_inquiry.refresh_from_db()
    assert a_inquiry.status == InquiryStatus.NEW and a_inquiry.assignee is None
    assert list(a_inquiry.events.values_list("kind", flat=True)) == ["submitted", "email", "email"]


def test_search_finds_names_emails_and_phones_only_in_own_sites(
    client, bob, charlie, a_inquiry, b_inquiry
):
    login(client, bob)
    for term in ("Martin", "alice", "alice.martin@example.org", "06 12 34 56 78", "+33612345678"):
        assert listed(client.get(ADMIN, {"q": term})) == {a_inquiry.pk}, term
    assert listed(client.get(ADMIN, {"q": "Beatrice"})) == set()
    login(client, charlie)
    assert listed(client.get(ADMIN, {"q": "Martin"})) == set()
    assert listed(client.get(ADMIN, {"q": "612345678"})) == {b_inquiry.pk}


def test_actions_leave_other_sites_inquiries_alone(client, charlie, a_inquiry, b_inquiry):
    login(client, charlie)
    for action in ("mark_contacted", "assign_to_me"):
        client.post(
            ADMIN,
            {"action": action, "_selected_action": [a_inquiry.pk, b_inquiry.pk]},
        )
    a_inquiry.refresh_from_db()
    b_inquiry.refresh_from_db()
    assert (a_inquiry.status, a_inquiry.assignee) == (InquiryStatus.NEW, None)
    assert (b_inquiry.status, b_inquiry.assignee) == (InquiryStatus.CONTACTED, charlie)


def test_coordinators_cannot_delete(client, bob, a_inquiry):
    response = login(client, bob).get(ADMIN)
    assert "delete_selected" not in dict(response.context["action_form"].fields["action"].choices)
    assert client.post(f"{ADMIN}{a_inquiry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Inquiry.objects.filter(pk=a_inquiry.pk).exists()


def rows(response) -> list[list[str]]:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    text = content.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def test_the_csv_export_is_the_filtered_list_utf8_and_formula_safe(
    client, bob, site_a, alice, a_inquiry
):
    evil = create(
        site_a,
        alice,
        first_name="=HYPERLINK(1)",
        last_name="-2+3",
        message="@SUM(A1)\nsecond line",
        email="zoe@example.org",
    )
    services.inquiry_change_status(inquiry=evil, to_status="contacted", actor=bob)
    login(client, bob)
    response = client.get(ADMIN + "export/", {"status__exact": "contacted"})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    header, *data = rows(response)
    assert header[0] == "reference" and "email" in header
    assert len(data) == 1
    (row,) = data
    assert row[header.index("first name")] == "'=HYPERLINK(1)"
    assert row[header.index("last name")] == "'-2+3"
    assert row[header.index("message")] == "'@SUM(A1)\nsecond line"
    assert row[header.index("phone number")] == "'+33612345678"

    # The whole list, with accents intact.
    header, *data = rows(client.get(ADMIN + "export/"))
    assert {r[0] for r in data} == {str(a_inquiry.pk), str(evil.pk)}
    assert any("traitée" in r[header.index("message")] for r in data)


def test_the_csv_export_of_another_coordinator_holds_none_of_site_a(
    client, charlie, a_inquiry, b_inquiry
):
    login(client, charlie)
    _header, *data = rows(client.get(ADMIN + "export/"))
    assert [r[0] for r in data] == [str(b_inquiry.pk)]
    response = client.post(
        ADMIN, {"action": "export_csv", "_selected_action": [a_inquiry.pk, b_inquiry.pk]}
    )
    _header, *data = rows(response)
    assert [r[0] for r in data] == [str(b_inquiry.pk)]


def test_filters_by_status_site_trial_age_and_assignee(
    client, superuser, site_a, alice, a_inquiry, b_inquiry, bob
):
    services.inquiry_assign(inquiry=b_inquiry, assignee=superuser, actor=superuser)
    login(client, superuser)
    assert listed(client.get(ADMIN, {"site": site_a.pk})) == {a_inquiry.pk}
    assert listed(client.get(ADMIN, {"trial": "NCT07635641"})) == {b_inquiry.pk}
    assert listed(client.get(ADMIN, {"assignee": "me"})) == {b_inquiry.pk}
    assert listed(client.get(ADMIN, {"assignee": "none"})) == {a_inquiry.pk}
    assert listed(client.get(ADMIN, {"status__exact": "new"})) == {a_inquiry.pk, b_inquiry.pk}
    assert listed(client.get(ADMIN, {"age": "7d"})) == {a_inquiry.pk, b_inquiry.pk}
    assert listed(client.get(ADMIN, {"age": "older"})) == set()
    with time_machine.travel(timezone.now() + datetime.timedelta(days=40)):
        login(client, superuser)  # the session expired meanwhile
        assert listed(client.get(ADMIN, {"age": "older"})) == {a_inquiry.pk, b_inquiry.pk}
        assert listed(client.get(ADMIN, {"age": "overdue"})) == {a_inquiry.pk, b_inquiry.pk}


@pytest.fixture
def superuser():
    return get_user_model().objects.create_superuser("root", "root@example.org", "x")


def test_new_inquiries_are_highlighted_after_two_business_days(client, bob, site_a, alice):
    friday = timezone.make_aware(datetime.datetime(2026, 11, 20, 17, 0))
    with time_machine.travel(friday, tick=False):
        inquiry = create(site_a, alice)
    monday = friday + datetime.timedelta(days=3)
    tuesday_before, tuesday_after = (
        friday + datetime.timedelta(days=4, minutes=-1),
        friday + datetime.timedelta(days=4, minutes=1),
    )
    for moment, overdue in ((monday, False), (tuesday_before, False), (tuesday_after, True)):
        with time_machine.travel(moment, tick=False):
            login(client, bob)  # staff sessions end after 30 idle minutes
            html = client.get(ADMIN).content.decode()
            assert ('class="tf-overdue"' in html) is overdue, moment
            assert listed(client.get(ADMIN, {"age": "overdue"})) == (
                {inquiry.pk} if overdue else set()
            )
    services.inquiry_change_status(inquiry=inquiry, to_status="contacted", actor=bob)
    with time_machine.travel(tuesday_after, tick=False):
        assert 'class="tf-overdue"' not in client.get(ADMIN).content.decode()


def test_the_change_page_shows_the_patient_the_answers_and_the_timeline(client, bob, a_inquiry):
    response = login(client, bob).get(f"{ADMIN}{a_inquiry.pk}/change/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Alice" in html and "+33612345678" in html and "Puis-je participer" in html
    assert "Timeline" in html and "Email to the research team" in html
    assert "Copy to the patient" in html
    assert 'name="_save"' not in html  # fields change only through the workflow
    assert "style=" not in html.split('id="content-main"')[1].split("</form>")[-1]


def test_a_coordinator_moves_an_inquiry_through_the_workflow_with_notes(client, bob, a_inquiry):
    login(client, bob)
    base = f"{ADMIN}{a_inquiry.pk}/workflow/"
    steps = [
        ("status", {"to_status": "contacted", "note": "Called, will come on Monday."}),
        ("assign", {"assignee": bob.pk}),
        ("note", {"text": "Brings her MRI."}),
        ("status", {"to_status": "prescreening"}),
        ("status", {"to_status": "referred"}),
        ("status", {"to_status": "enrolled"}),
    ]
    for action, data in steps:
        response = client.post(base + action + "/", data)
        assert response.status_code == 302
        assert response["Location"] == f"{ADMIN}{a_inquiry.pk}/change/"
    a_inquiry.refresh_from_db()
    assert (a_inquiry.status, a_inquiry.assignee) == (InquiryStatus.ENROLLED, bob)
    html = client.get(f"{ADMIN}{a_inquiry.pk}/change/").content.decode()
    for text in ("Called, will come on Monday.", "Brings her MRI.", "assigned to bob", "Enrolled"):
        assert text in html
    moves = list(
        a_inquiry.events.filter(kind=EventKind.STATUS_CHANGE).values_list(
            "actor__username", "from_status", "to_status"
        )
    )
    assert moves == [
        ("bob", "new", "contacted"),
        ("bob", "contacted", "prescreening"),
        ("bob", "prescreening", "referred"),
        ("bob", "referred", "enrolled"),
    ]


def test_a_move_the_workflow_refuses_is_explained(client, bob, a_inquiry):
    response = login(client, bob).post(
        f"{ADMIN}{a_inquiry.pk}/workflow/status/", {"to_status": "enrolled"}, follow=True
    )
    assert "Select a valid choice" in response.content.decode()
    a_inquiry.refresh_from_db()
    assert a_inquiry.status == InquiryStatus.NEW


def test_reply_to_the_patient_from_the_admin(client, bob, a_inquiry):
    response = login(client, bob).post(
        f"{ADMIN}{a_inquiry.pk}/workflow/reply/", {"message": "Pouvez-vous nous rappeler ?"}
    )
    assert response.status_code == 302
    reply = OutgoingEmail.objects.get(template="inquiry-reply")
    assert reply.to_email == a_inquiry.email and "Pouvez-vous nous rappeler ?" in reply.body_text
    assert reply.language == "fr"
    event = a_inquiry.events.get(kind=EventKind.REPLY)
    assert (event.actor, event.email) == (bob, reply)
    html = client.get(f"{ADMIN}{a_inquiry.pk}/change/").content.decode()
    assert "Pouvez-vous nous rappeler ?" in html


def test_a_withdrawn_inquiry_offers_no_work(client, bob, a_inquiry):
    services.inquiry_withdraw(inquiry=a_inquiry)
    html = login(client, bob).get(f"{ADMIN}{a_inquiry.pk}/change/").content.decode()
    assert "Work on this inquiry" not in html
    assert "(erased)" in login(client, bob).get(ADMIN).content.decode()


def test_the_response_times_page_shows_counts_and_weekly_medians(
    client, bob, charlie, site_a, alice
):
    now = timezone.now()
    monday = timezone.localdate(now) - datetime.timedelta(days=timezone.localdate(now).weekday())
    start = timezone.make_aware(datetime.datetime.combine(monday, datetime.time(9)))
    hours = [2, 4, 30]  # median 4 h
    for n, wait in enumerate(hours):
        with time_machine.travel(start - datetime.timedelta(weeks=1, minutes=n), tick=False):
            inquiry = create(site_a, alice)
        with time_machine.travel(
            start - datetime.timedelta(weeks=1, minutes=n) + datetime.timedelta(hours=wait),
            tick=False,
        ):
            services.inquiry_change_status(inquiry=inquiry, to_status="contacted", actor=bob)
    with time_machine.travel(start, tick=False):
        create(site_a, alice)  # this week, still new

    (figure,) = stats.response_times([site_a], now=start + datetime.timedelta(hours=1))
    assert len(figure.weeks) == 13
    last_week, this_week = figure.weeks[-2], figure.weeks[-1]
    assert (last_week.submitted, last_week.contacted, last_week.median_hours) == (3, 3, 4.0)
    assert (this_week.submitted, this_week.contacted, this_week.median) == (1, 0, None)
    assert dict(figure.by_status) == {"New": 1, "Contacted": 3}

    with time_machine.travel(start + datetime.timedelta(hours=1), tick=False):
        response = login(client, bob).get(ADMIN + "response-times/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "University Hospital, Strasbourg" in html
    assert "4.0 h" in html and "<svg" in html and "style=" not in html.split("<svg")[1]
    html = login(client, charlie).get(ADMIN + "response-times/").content.decode()
    assert "University Hospital, Strasbourg" not in html and "IRCCS Humanitas" in html


def test_outgoing_emails_are_visible_to_superusers_with_status_and_retry(
    admin_client, client, bob, a_inquiry
):
    response = admin_client.get("/admin/notifications/outgoingemail/")
    assert response.status_code == 200
    assert "inquiry-to-site" in response.content.decode()
    assert login(client, bob).get("/admin/notifications/outgoingemail/").status_code == 403
