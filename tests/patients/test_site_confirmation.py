"""Fresh site status: the monthly "still recruiting?" email (beat task with time travel), its
signed link, what a paused or closed site changes for patients, and "My sites" in the admin."""

import datetime
import json
import re

import pytest
import time_machine
from django.core import mail, signing
from django.utils import timezone

from notifications import emails
from notifications.models import EmailStatus, OutgoingEmail
from notifications.tasks import deliver_email
from patients import services, sites, tasks
from patients.models import SiteConfirmation, StaffProfile
from tests.conftest import SEED_DATA, coordinator
from tests.patients.conftest import create
from trials.importer import Importer
from trials.models import CoordinatorStatus, Site, Trial
from trials.sources import iter_source

pytestmark = pytest.mark.django_db

MONDAY = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC)
MY_SITES = "/admin/patients/coordinatedsite/"


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    monkeypatch.setattr(deliver_email, "delay", lambda email_id: None)


@pytest.fixture
def fanned_out(monkeypatch):
    """Site ids the beat task hands to workers."""
    ids = []
    monkeypatch.setattr(tasks.request_site_confirmation, "delay", ids.append)
    return ids


def deliver_all() -> list:
    for email_id in OutgoingEmail.objects.filter(status=EmailStatus.QUEUED).values_list(
        "id", flat=True
    ):
        emails.deliver(email_id)
    return mail.outbox


def run_beat(fanned_out) -> int:
    """The daily beat task, then each task it fanned out (as a worker would)."""
    fanned_out.clear()
    tasks.request_site_confirmations()
    return sum(tasks.request_site_confirmation(site_id) for site_id in list(fanned_out))


def confirm_link(message) -> str:
    return re.search(r"http://testserver(/sites/confirm/[^/\s]+/)", message.body).group(1)


# --- the monthly email -------------------------------------------------------------------------


def test_the_monthly_email_asks_each_coordinator_once_per_site_per_month(fanned_out, site_a, bob):
    other = coordinator("bob2", site_a)
    StaffProfile.objects.create(user=other, email_language="it")
    with time_machine.travel(MONDAY, tick=False):
        assert run_beat(fanned_out) == 2
        assert fanned_out == [site_a.pk]
        sent = deliver_all()
        assert {m.to[0] for m in sent} == {bob.email, other.email}
        by_address = {m.to[0]: m for m in sent}
        # Each coordinator's own language, never the (French) site's country's: bob chose
        # none (English, the default), bob2 chose Italian.
        message = by_address[bob.email]
        assert message.subject == "Still recruiting at University Hospital, Strasbourg?"
        assert message.extra_headers["Content-Language"] == "en"
        italian = by_address[other.email]
        assert italian.extra_headers["Content-Language"] == "it"
        assert "/it/sites/confirm/" in italian.body
        assert "/sites/confirm/" in message.body
        assert "/admin/patients/coordinatedsite/" in message.body
        # A duplicate task, and the beat again the same day, send nothing more.
        assert tasks.request_site_confirmation(site_a.pk) == 0
        assert run_beat(fanned_out) == 0 and fanned_out == []
    with time_machine.travel(MONDAY + datetime.timedelta(days=29), tick=False):
        assert run_beat(fanned_out) == 0
    with time_machine.travel(MONDAY + datetime.timedelta(days=31), tick=False):
        assert run_beat(fanned_out) == 2
    assert OutgoingEmail.objects.filter(template="site-confirm").count() == 4


def test_a_site_confirmed_recently_is_not_asked(fanned_out, site_a, bob):
    with time_machine.travel(MONDAY, tick=False):
        sites.site_confirm(site=site_a, user=bob, status="recruiting")
    with time_machine.travel(MONDAY + datetime.timedelta(days=20), tick=False):
        assert run_beat(fanned_out) == 0
    with time_machine.travel(MONDAY + datetime.timedelta(days=31), tick=False):
        assert run_beat(fanned_out) == 1


def test_sites_without_a_coordinator_or_closed_by_it_are_not_asked(fanned_out, site_a, bob):
    with time_machine.travel(MONDAY, tick=False):
        assert sites.sites_due_for_confirmation().count() == 1  # only bob's site of all
        sites.site_confirm(site=site_a, user=bob, status="closed")
    with time_machine.travel(MONDAY + datetime.timedelta(days=60), tick=False):
        assert run_beat(fanned_out) == 0


def test_a_paused_site_is_asked_whether_it_reopened(fanned_out, site_a, bob):
    with time_machine.travel(MONDAY, tick=False):
        sites.site_confirm(site=site_a, user=bob, status="paused")
    with time_machine.travel(MONDAY + datetime.timedelta(days=31), tick=False):
        assert run_beat(fanned_out) == 1


def test_an_inactive_coordinator_gets_nothing(fanned_out, site_a, bob):
    bob.is_active = False
    bob.save()
    with time_machine.travel(MONDAY, tick=False):
        assert run_beat(fanned_out) == 0


# --- the signed link ---------------------------------------------------------------------------


@pytest.fixture
def link(fanned_out, site_a, bob):
    """The link of this month's email to bob, sent now."""
    run_beat(fanned_out)
    return confirm_link(deliver_all()[0])


def later(**delta) -> datetime.datetime:
    return timezone.now() + datetime.timedelta(**delta)


def test_opening_the_link_shows_three_buttons_and_changes_nothing(client, link, site_a):
    with time_machine.travel(later(days=1), tick=False):
        response = client.get(link)
    html = response.content.decode()
    assert response.status_code == 200
    for label in ("Still recruiting", "Paused", "Closed"):
        assert label in html
    assert response["Referrer-Policy"] == "same-origin"
    site_a.refresh_from_db()
    assert site_a.status_confirmed_at is None and site_a.coordinator_status == ""


def test_a_coordinator_confirms_from_the_email_in_one_click(client, link, site_a, bob):
    moment = later(days=1).replace(microsecond=0)
    with time_machine.travel(moment, tick=False):
        response = client.post(link, {"status": "recruiting"})
    assert response.status_code == 200
    assert "Thank you" in response.content.decode()
    site_a.refresh_from_db()
    assert site_a.coordinator_status == CoordinatorStatus.RECRUITING
    assert site_a.status_confirmed_at == moment
    assert site_a.status_confirmed_by == bob
    confirmation = SiteConfirmation.objects.get(site=site_a)
    assert (confirmation.user, confirmation.status, confirmation.via) == (
        bob,
        "recruiting",
        "email",
    )
    assert Trial.objects.get(pk=site_a.trial_id).sites_confirmed_at == moment


def test_a_coordinator_marks_the_site_paused_from_the_email(client, link, site_a, alice):
    client.post(link, {"status": "paused"})
    site_a.refresh_from_db()
    assert site_a.coordinator_status == "paused" and not site_a.is_recruiting
    assert Trial.objects.get(pk=site_a.trial_id).sites_confirmed_at is None
    # The contact form stops offering it (it was the trial's only site), and a patient's
    # inquiry to it is refused.
    html = client.get("/trials/NCT05738187/contact/").content.decode()
    assert "No site of this trial is recruiting at the moment" in html
    with pytest.raises(services.InquiryRefused):
        create(site_a, alice)


@pytest.mark.parametrize("status", ["", "maybe", "withdrawn"])
def test_an_unknown_choice_changes_nothing(client, link, site_a, status):
    assert client.post(link, {"status": status}).status_code == 400
    site_a.refresh_from_db()
    assert site_a.status_confirmed_at is None


def test_a_tampered_link_changes_nothing(client, link, site_a):
    token = link.split("/")[3]
    tampered = link.replace(token, token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
    response = client.post(tampered, {"status": "closed"})
    assert response.status_code == 400
    assert "This link does not work" in response.content.decode()
    # A token of another salt (the patient's withdraw link) does not open it either.
    other = signing.dumps([site_a.pk, 1], salt="patients.withdraw")
    assert client.post(f"/sites/confirm/{other}/", {"status": "closed"}).status_code == 400
    site_a.refresh_from_db()
    assert site_a.coordinator_status == ""


def test_the_link_expires_after_45_days(client, link, site_a):
    with time_machine.travel(later(days=44), tick=False):
        assert client.get(link).status_code == 200
    with time_machine.travel(later(days=46), tick=False):
        response = client.post(link, {"status": "closed"})
    assert response.status_code == 400
    site_a.refresh_from_db()
    assert site_a.coordinator_status == ""


def test_the_link_stops_working_for_someone_no_longer_coordinating_the_site(
    client, link, site_a, bob
):
    bob.coordinated_sites.all().delete()
    assert client.post(link, {"status": "closed"}).status_code == 400
    site_a.refresh_from_db()
    assert site_a.coordinator_status == ""


# --- what patients see ---------------------------------------------------------------------------


def test_the_trial_page_shows_when_the_site_confirmed_and_when_that_gets_old(client, site_a, bob):
    with time_machine.travel(MONDAY, tick=False):
        sites.site_confirm(site=site_a, user=bob, status="recruiting")
    with time_machine.travel(MONDAY + datetime.timedelta(days=10), tick=False):
        html = client.get("/trials/NCT05738187/").content.decode()
    assert "Recruitment confirmed by the site on March 2, 2026" in html
    with time_machine.travel(MONDAY + datetime.timedelta(days=91), tick=False):
        html = client.get("/trials/NCT05738187/").content.decode()
    # An old confirmation is no badge, and no warning either: the trial's one quiet line.
    assert "Recruitment confirmed by the site" not in html
    assert "Site statuses come from the registry, last updated on" in html


def test_sites_never_confirmed_get_one_quiet_line_for_the_trial_not_a_warning_each(client):
    html = client.get("/trials/NCT05738187/").content.decode()
    assert "not recently confirmed" not in html
    assert html.count("Site statuses come from the registry") == 1


def test_a_site_closed_by_its_coordinator_overrides_the_registry(client, site_a, bob):
    sites.site_confirm(site=site_a, user=bob, status="closed")
    response = client.get("/trials/NCT05738187/")
    html = response.content.decode()
    assert site_a.status == "RECRUITING"  # the registry still says so
    assert "Closed by the site" in html
    assert "told us that this site has closed recruitment" in html
    assert "although the registry still lists it as recruiting" in html
    assert response.context["open_sites"] == []
    assert 'id="contact-site"' not in html


def test_a_paused_site_is_not_offered_among_other_recruiting_sites(client, bob):
    trial = Trial.objects.get(nct_id="NCT06129864")
    paused = Site.objects.recruiting().filter(trial=trial).first()
    coordinator("dora", paused)
    sites.site_confirm(site=paused, user=paused.coordinators.get().user, status="paused")
    offered = client.get("/trials/NCT06129864/contact/").context["form"].fields["site"].choices
    assert paused.pk not in [pk for pk, _label in offered]
    assert Site.objects.recruiting().filter(pk=paused.pk).count() == 0


def test_only_a_coordinator_of_the_site_may_confirm_it(site_a, charlie):
    with pytest.raises(sites.ConfirmRefused):
        sites.site_confirm(site=site_a, user=charlie, status="closed")
    site_a.refresh_from_db()
    assert site_a.coordinator_status == ""


def test_imports_never_touch_what_coordinators_said(tmp_path, site_a, bob):
    site_a.response_business_days = 4
    site_a.save()
    sites.site_confirm(site=site_a, user=bob, status="paused")
    record = json.loads((SEED_DATA / "NCT05738187.json").read_text())
    record["protocolSection"]["descriptionModule"]["briefSummary"] = "Changed by the registry."
    path = tmp_path / "NCT05738187.json"
    path.write_text(json.dumps(record))
    stats = Importer().run(iter_source(str(path)))
    assert stats.updated == 1
    site_a.refresh_from_db()
    assert site_a.trial.brief_summary == "Changed by the registry."
    assert site_a.coordinator_status == "paused"
    assert site_a.status_confirmed_by == bob and site_a.status_confirmed_at is not None
    assert site_a.response_business_days == 4


# --- "My sites" in the admin ----------------------------------------------------------------------


def test_a_coordinator_lists_only_their_sites(client, bob, charlie, site_a, site_b):
    client.force_login(bob)
    response = client.get(MY_SITES)
    assert response.status_code == 200
    assert [s.pk for s in response.context["cl"].result_list] == [site_a.pk]
    assert client.get(f"{MY_SITES}{site_b.pk}/change/").status_code == 404
    assert client.post(f"{MY_SITES}{site_b.pk}/confirm/", {"status": "closed"}).status_code == 404
    site_b.refresh_from_db()
    assert site_b.coordinator_status == ""


def test_a_coordinator_confirms_a_site_in_one_click_from_the_list(client, bob, site_a):
    client.force_login(bob)
    html = client.get(MY_SITES).content.decode()
    assert f'formaction="{MY_SITES}{site_a.pk}/confirm/"' in html
    before = timezone.now()
    response = client.post(f"{MY_SITES}{site_a.pk}/confirm/", {"status": "recruiting"})
    assert response.status_code == 302
    site_a.refresh_from_db()
    assert site_a.coordinator_status == "recruiting"
    assert before <= site_a.status_confirmed_at <= timezone.now()
    assert SiteConfirmation.objects.get(site=site_a).via == "admin"
    assert "recorded as “Recruiting”" in client.get(response["Location"]).content.decode()


@pytest.mark.parametrize(
    "target",
    ["//evil.example/", "https://evil.example/admin/", "/\\evil.example/", "\\\\evil.example",
     "javascript:alert(1)", "///evil.example/"],
)  # fmt: skip
def test_the_one_click_confirmation_never_sends_anyone_to_another_site(client, bob, site_a, target):
    client.force_login(bob)
    response = client.post(
        f"{MY_SITES}{site_a.pk}/confirm/", {"status": "recruiting", "next": target}
    )
    assert response.status_code == 302
    assert response["Location"] == MY_SITES


def test_the_one_click_confirmation_goes_back_to_a_page_of_the_site(client, bob, site_a):
    client.force_login(bob)
    back = f"{MY_SITES}?o=2"
    response = client.post(f"{MY_SITES}{site_a.pk}/confirm/", {"status": "paused", "next": back})
    assert response["Location"] == back


def test_the_admin_actions_mark_sites_paused_or_closed(client, bob, site_a):
    client.force_login(bob)
    client.post(MY_SITES, {"action": "mark_closed", "_selected_action": [site_a.pk]})
    site_a.refresh_from_db()
    assert site_a.coordinator_status == "closed"
    client.post(MY_SITES, {"action": "confirm_recruiting", "_selected_action": [site_a.pk]})
    site_a.refresh_from_db()
    assert site_a.coordinator_status == "recruiting" and site_a.is_recruiting


def test_a_coordinator_sets_the_response_deadline_but_not_the_registry_fields(client, bob, site_a):
    client.force_login(bob)
    url = f"{MY_SITES}{site_a.pk}/change/"
    html = client.get(url).content.decode()
    assert 'name="response_business_days"' in html and 'name="facility"' not in html
    assert "Tell patients whether this site recruits" in html
    response = client.post(url, {"response_business_days": "5", "facility": "Elsewhere"})
    assert response.status_code == 302
    site_a.refresh_from_db()
    assert site_a.response_business_days == 5
    assert site_a.facility == "University Hospital, Strasbourg"


def test_a_superuser_sees_every_site_that_has_a_coordinator(
    admin_client, bob, charlie, site_a, site_b
):
    listed = admin_client.get(MY_SITES).context["cl"].result_list
    assert {s.pk for s in listed} == {site_a.pk, site_b.pk}
