"""The contact form: /trials/<NCT id>/contact/ and its confirmation page."""

import logging
import re

import pytest
from django.core import mail
from django.test import Client

from notifications.models import EmailStatus, OutgoingEmail
from notifications.tasks import deliver_email
from patients.consent import CONSENT_VERSION
from patients.models import Inquiry, PrescreenQuestion, RoutedTo
from trials.models import Site, Trial

pytestmark = pytest.mark.django_db

URL = "/trials/{}/contact/"


def submit(client, nct_id, data, **extra):
    return client.post(URL.format(nct_id), data, **extra)


@pytest.fixture
def enqueued(monkeypatch):
    """Ids handed to the broker (instead of a real Redis round trip)."""
    ids = []
    monkeypatch.setattr(deliver_email, "delay", lambda email_id: ids.append(email_id))
    return ids


def test_the_trial_page_offers_the_contact_form_and_keeps_the_place(client):
    html = client.get("/trials/NCT05738187/", {"near": "Strasbourg"}).content.decode()
    assert "Get in touch with the nearest study center" in html
    assert 'href="/trials/NCT05738187/contact/?near=Strasbourg"' in html
    assert "What happens next" in html


def test_the_trial_page_of_a_closed_trial_offers_the_search_instead(client):
    Trial.objects.filter(nct_id="NCT05738187").update(overall_status="COMPLETED")
    html = client.get("/trials/NCT05738187/").content.decode()
    assert "/contact/" not in html
    assert "Find recruiting trials" in html


def test_the_form_has_the_seed_fields_and_preselects_the_only_site(client, site_a):
    response = client.get(URL.format("NCT05738187"))
    html = response.content.decode()
    assert response.status_code == 200
    for label in ("First name", "Last name", "Email", "Phone number", "Other language"):
        assert label in html
    assert "Get in touch with the nearest study center" in html
    form = response.context["form"]
    assert form["site"].value() == site_a.pk
    assert 'name="website"' in html and 'tabindex="-1"' in html  # the honeypot
    assert 'aria-hidden="true"' in html
    assert "style=" not in html and "<script>" not in html


def test_it_preselects_the_recruiting_site_nearest_to_the_patients_place(client):
    response = client.get(URL.format("NCT06129864"), {"near": "Milan"})
    sites = response.context["sites"]
    chosen = Site.objects.get(pk=response.context["form"]["site"].value())
    assert chosen == sites[0]
    # Recruiting sites first (the Milan ones only plan to), each group nearest first.
    assert chosen.status == "RECRUITING"
    for status in ("RECRUITING", "NOT_YET_RECRUITING"):
        distances = [s.distance_km for s in sites if s.status == status and s.distance_km]
        assert distances == sorted(distances)
    statuses = [s.status for s in sites]
    assert (
        statuses.index("NOT_YET_RECRUITING")
        > len(statuses) - statuses[::-1].index("RECRUITING") - 1
    )
    assert any(s.country_code == "IT" and s.distance_km < 30 for s in sites)


def test_without_a_place_it_preselects_the_first_recruiting_site(client):
    response = client.get(URL.format("NCT06129864"))
    first = Site.objects.recruiting().filter(trial__nct_id="NCT06129864").order_by("position")[0]
    assert response.context["form"]["site"].value() == first.pk


def test_sites_that_do_not_recruit_are_not_offered(client):
    trial = Trial.objects.get(nct_id="NCT06129864")
    withdrawn = Site.objects.filter(trial=trial, status="WITHDRAWN").first()
    assert withdrawn is not None
    response = client.get(URL.format("NCT06129864"))
    offered = {pk for pk, _label in response.context["form"].fields["site"].choices}
    assert withdrawn.pk not in offered
    assert offered == set(
        Site.objects.recruiting().filter(trial=trial).values_list("pk", flat=True)
    )


def test_a_patient_contacts_the_site_and_sees_the_confirmation_naming_it(
    client, alice, site_a, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = submit(client, "NCT05738187", {**alice, "site": site_a.pk})
    assert response.status_code == 302
    inquiry = Inquiry.objects.get()
    assert (inquiry.site, inquiry.trial.nct_id) == (site_a, "NCT05738187")
    assert (inquiry.first_name, inquiry.last_name) == ("Alice", "Martin")
    assert inquiry.phone == "+33612345678"
    assert inquiry.consent_version == CONSENT_VERSION
    assert inquiry.consent_text.startswith("I agree that TrialFinder sends my contact details")
    assert inquiry.routed_to == RoutedTo.TRIAGE  # the seed trial lists no contact at all
    emails = OutgoingEmail.objects.filter(erase_key=inquiry.erase_key)
    assert sorted(emails.values_list("template", flat=True)) == ["inquiry-copy", "inquiry-to-site"]
    assert set(emails.values_list("status", flat=True)) == {EmailStatus.QUEUED}
    assert sorted(enqueued) == sorted(emails.values_list("id", flat=True))
    assert len(callbacks) == 2
    assert str(inquiry.public_id) not in response["Location"]
    assert f"/{inquiry.pk}/" not in response["Location"]

    page = client.get(response["Location"])
    html = page.content.decode()
    assert (
        "We have sent your contact details to the research team at University Hospital, "
        "Strasbourg." in html
    )
    assert "A copy of the message has been sent to your email for your records." in html
    assert "What happens next" in html
    assert "alice.martin@example.org" not in html  # no personal data on the page


def test_a_national_phone_number_takes_the_sites_country(client, alice, site_a, site_b):
    submit(client, "NCT05738187", {**alice, "site": site_a.pk, "phone": "03 88 11 67 68"})
    submit(
        client,
        "NCT07635641",
        {**alice, "site": site_b.pk, "phone": "02 8224 4321", "email": "a2@example.org"},
    )
    phones = set(Inquiry.objects.values_list("phone", flat=True))
    assert phones == {"+33388116768", "+390282244321"}


def test_other_language_is_stored_with_its_name(client, alice, site_a):
    submit(
        client,
        "NCT05738187",
        {**alice, "site": site_a.pk, "preferred_language": "other", "other_language": "Deutsch"},
    )
    inquiry = Inquiry.objects.get()
    assert (inquiry.preferred_language, inquiry.other_language) == ("other", "Deutsch")


LONG = "x" * 10_000


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"email": "alice@"}, "email", "Enter a valid email address."),
        ({"phone": "12"}, "phone", "This does not look like a valid phone number."),
        ({"phone": "not a phone"}, "phone", "This does not look like a valid phone number."),
        ({"consent": ""}, "consent", "we can only pass on your details with your consent"),
        ({"first_name": ""}, "first_name", "This field is required."),
        ({"first_name": LONG}, "first_name", "at most 100 characters"),
        ({"last_name": LONG}, "last_name", "at most 100 characters"),
        ({"message": LONG}, "message", "at most 5000 characters"),
        ({"phone": LONG}, "phone", "at most 40 characters"),
        ({"email": LONG + "@example.org"}, "email", "at most 254 characters"),
        ({"other_language": LONG}, "other_language", "at most 100 characters"),
        ({"first_name": "<b>Alice</b>"}, "first_name", "without links or special characters"),
        ({"last_name": "Martin <script>"}, "last_name", "without links or special characters"),
        ({"last_name": "see https://spam.example"}, "last_name", "without links"),
        ({"first_name": "www.cheap-pills.com"}, "first_name", "without links"),
        ({"preferred_language": "de"}, "preferred_language", "Select a valid choice."),
        ({"preferred_language": "other"}, "other_language", "Please tell us which language."),
        ({"site": "999999999"}, "site", "Select a valid choice."),
        ({"site": "abc"}, "site", "Select a valid choice."),
    ],
)
def test_bad_input_shows_the_form_again_with_a_message_and_saves_nothing(
    client, alice, site_a, enqueued, changes, field, message
):
    response = submit(client, "NCT05738187", {**alice, "site": site_a.pk, **changes})
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors, errors
    assert message in " ".join(errors[field])
    html = response.content.decode()
    assert "Please correct the fields marked below. Nothing was sent." in html
    assert Inquiry.objects.count() == 0
    assert OutgoingEmail.objects.count() == 0 and enqueued == []


def test_a_site_of_another_trial_is_refused(client, alice, site_b):
    response = submit(client, "NCT05738187", {**alice, "site": site_b.pk})
    assert response.status_code == 200
    assert "site" in response.context["form"].errors
    assert Inquiry.objects.count() == 0


def test_a_site_that_stopped_recruiting_is_refused(client, alice):
    trial = Trial.objects.get(nct_id="NCT06129864")
    open_sites = list(Site.objects.recruiting().filter(trial=trial)[:2])
    Site.objects.filter(pk=open_sites[0].pk).update(status="COMPLETED")
    response = submit(client, "NCT06129864", {**alice, "site": open_sites[0].pk})
    assert "site" in response.context["form"].errors
    assert Inquiry.objects.count() == 0


def test_a_trial_that_stopped_recruiting_explains_and_refuses_a_post(client, alice, site_a):
    Trial.objects.filter(nct_id="NCT05738187").update(overall_status="ACTIVE_NOT_RECRUITING")
    page = client.get(URL.format("NCT05738187"))
    html = page.content.decode()
    assert page.status_code == 200
    assert "This trial is not recruiting any more" in html
    assert "Search all recruiting trials" in html
    assert 'name="first_name"' not in html
    response = submit(client, "NCT05738187", {**alice, "site": site_a.pk})
    assert response.status_code == 409
    assert "Your message was not sent." in response.content.decode()
    assert Inquiry.objects.count() == 0 and OutgoingEmail.objects.count() == 0


def test_a_trial_without_a_recruiting_site_explains(client):
    Site.objects.filter(trial__nct_id="NCT05738187").update(status="COMPLETED")
    html = client.get(URL.format("NCT05738187")).content.decode()
    assert "No site of this trial is recruiting at the moment" in html


def test_an_unknown_trial_is_404(client):
    assert client.get(URL.format("NCT99999999")).status_code == 404
    assert client.get(URL.format("not-a-trial")).status_code == 404


def test_the_honeypot_pretends_success_without_saving_or_sending(
    client, alice, site_a, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = submit(
            client, "NCT05738187", {**alice, "site": site_a.pk, "website": "http://spam"}
        )
    assert response.status_code == 302
    assert "University Hospital, Strasbourg" in client.get(response["Location"]).content.decode()
    assert Inquiry.objects.count() == 0
    assert OutgoingEmail.objects.count() == 0 and enqueued == []


def test_it_limits_submissions_per_email_with_a_clear_429(client, alice, site_a):
    for n in range(3):
        data = {**alice, "site": site_a.pk}
        assert submit(client, "NCT05738187", data, REMOTE_ADDR=f"10.0.0.{n}").status_code == 302
    response = submit(client, "NCT05738187", data, REMOTE_ADDR="10.0.0.9")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "Please wait a moment" in response.content.decode()
    assert Inquiry.objects.count() == 3


def test_it_limits_submissions_per_ip(client, alice, site_a):
    for n in range(5):
        data = {**alice, "site": site_a.pk, "email": f"patient{n}@example.org"}
        assert submit(client, "NCT05738187", data).status_code == 302
    data = {**alice, "site": site_a.pk, "email": "another@example.org"}
    response = submit(client, "NCT05738187", data)
    assert response.status_code == 429
    assert Inquiry.objects.count() == 5


def test_a_post_without_the_csrf_token_is_refused(alice, site_a):
    client = Client(enforce_csrf_checks=True)
    response = submit(client, "NCT05738187", {**alice, "site": site_a.pk})
    assert response.status_code == 403
    assert Inquiry.objects.count() == 0


@pytest.fixture
def questions():
    trial = Trial.objects.get(nct_id="NCT05738187")
    q1 = PrescreenQuestion.objects.create(
        trial=trial, text="Has your cancer come back in an area already treated by radiation?"
    )
    q2 = PrescreenQuestion.objects.create(
        trial=trial, text="Are you pregnant or breastfeeding?", eligible_answer=False, position=1
    )
    return q1, q2


def test_prescreening_says_the_patient_may_be_eligible(client, questions, site_a):
    q1, q2 = questions
    data = {"step": "check", "pre-age": "54", f"pre-q{q1.pk}": "yes", f"pre-q{q2.pk}": "no"}
    response = submit(client, "NCT05738187", {**data, "site": site_a.pk, "first_name": "Al"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "You may be eligible for this trial." in html
    assert response.context["form"]["first_name"].value() == "Al"  # kept, not validated
    assert not response.context["form"].errors
    assert Inquiry.objects.count() == 0


@pytest.mark.parametrize(
    "answers",
    [{"pre-age": "16"}, {"q2": "yes"}],
)
def test_prescreening_never_refuses_the_patient(client, questions, site_a, answers):
    _q1, q2 = questions
    data = {"step": "check", **{k.replace("q2", f"pre-q{q2.pk}"): v for k, v in answers.items()}}
    response = submit(client, "NCT05738187", {**data, "site": site_a.pk})
    html = response.content.decode()
    assert "You may not be eligible for this trial — you can still contact the team." in html
    assert 'name="first_name"' in html  # the form is still there


def test_prescreening_answers_are_stored_with_the_inquiry(client, questions, alice, site_a):
    q1, _q2 = questions
    data = {**alice, "site": site_a.pk, "pre-age": "16", f"pre-q{q1.pk}": "yes"}
    assert submit(client, "NCT05738187", data).status_code == 302
    prescreen = Inquiry.objects.get().prescreen
    assert prescreen["result"] == "may_not_be_eligible"
    assert prescreen["age"] == 16
    assert [(a["kind"], a["answer"], a["suggests_eligible"]) for a in prescreen["answers"]] == [
        ("age", "16", False),
        ("question", "yes", True),
    ]
    assert prescreen["answers"][1]["question"] == q1.text  # a snapshot of the question


def test_the_sex_question_appears_only_for_trials_open_to_one_sex(client):
    Trial.objects.filter(nct_id="NCT05738187").update(sex="FEMALE")
    html = client.get(URL.format("NCT05738187")).content.decode()
    assert "What is your sex?" in html
    html = client.get(URL.format("NCT06129864")).content.decode()
    assert "What is your sex?" not in html


def test_it_works_in_french_and_the_inquiry_remembers_the_language(client, alice, site_a):
    page = client.get(URL.format("NCT05738187"), HTTP_ACCEPT_LANGUAGE="fr")
    assert '<html lang="fr">' in page.content.decode()
    assert page.context["form"]["preferred_language"].value() == "fr"
    submit(
        client,
        "NCT05738187",
        {**alice, "site": site_a.pk, "preferred_language": "other", "other_language": "Alsacien"},
        HTTP_ACCEPT_LANGUAGE="fr",
    )
    inquiry = Inquiry.objects.get()
    assert inquiry.language == "fr"
    assert inquiry.email_language == "fr"  # "other": the interface language it was written in
    assert OutgoingEmail.objects.get(template="inquiry-copy").language == "fr"


def test_patient_data_never_reaches_the_logs(client, alice, site_a, caplog, monkeypatch):
    monkeypatch.setattr(deliver_email, "delay", lambda email_id: None)
    with caplog.at_level(logging.DEBUG):
        submit(client, "NCT05738187", {**alice, "site": site_a.pk})
        submit(client, "NCT05738187", {**alice, "site": site_a.pk, "email": "bad@"})
    assert Inquiry.objects.count() == 1
    for value in ("Alice", "Martin", "alice.martin", "612345678", "traitée"):
        assert value not in caplog.text


def test_nothing_in_the_request_path_talks_to_smtp(client, alice, site_a, monkeypatch):
    monkeypatch.setattr(deliver_email, "delay", lambda email_id: None)
    submit(client, "NCT05738187", {**alice, "site": site_a.pk})
    assert mail.outbox == []
    assert OutgoingEmail.objects.filter(status=EmailStatus.QUEUED).count() == 2


def test_each_site_option_names_facility_city_status_and_an_honest_distance(client):
    html = client.get("/trials/NCT06129864/contact/?near=Milan").content.decode()
    options = re.findall(r'<option value="\d+"( selected)?>([^<]*)</option>', html)
    labels = [label for _selected, label in options]
    assert options[0][0] == " selected"
    statuses = []
    for label in labels:
        facility_and_place, status, *_distance = label.split(" · ")
        assert " — " in facility_and_place  # "Research Site — Milan, Italy"
        statuses.append(status)
        assert "less than 1 km" not in label and not re.search(r"(?<!\d)0 km", label)
    # Recruiting sites first, then those not yet recruiting.
    assert statuses == sorted(statuses, key=lambda s: s != "Recruiting")
    assert any("in Milan" in label for label in labels)
    # Same-named sites in one city are told apart.
    assert len(set(labels)) == len(labels)
