"""/trials/<NCT id>/print/: the summary a patient takes to their doctor; with the pre-screening
answers posted from the contact page (shown, never stored, never in a URL)."""

import re

import pytest

from patients.models import Inquiry, PrescreenQuestion
from tests.text import visible
from trials.models import Contact, Trial

pytestmark = pytest.mark.django_db

URL = "/trials/{}/print/"


@pytest.fixture
def question():
    trial = Trial.objects.get(nct_id="NCT05738187")
    return PrescreenQuestion.objects.create(
        trial=trial, text="Has your cancer come back in an area already treated by radiation?"
    )


def test_the_trial_page_links_to_the_printable_summary(client):
    html = client.get("/trials/NCT05738187/", {"near": "Strasbourg"}).content.decode()
    assert 'href="/trials/NCT05738187/print/?near=Strasbourg"' in html
    assert "Print for my doctor" in html


def test_it_has_the_summary_eligibility_sites_and_room_for_questions(client):
    trial = Trial.objects.get(nct_id="NCT05738187")
    trial.plain_summary = "This study freezes tumours that came back after radiotherapy."
    trial.visits = "About 30 short visits over 6 weeks"
    trial.save()
    response = client.get(URL.format("NCT05738187"), {"near": "Strasbourg"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "This study freezes tumours that came back after radiotherapy." in html
    assert "About 30 short visits over 6 weeks" in html  # what taking part involves
    assert "You may be able to take part if" in visible(
        html
    ) and "Pregnant or breastfeeding women" in visible(html)
    assert "Recruiting sites nearest to Strasbourg, France" in html
    assert "University Hospital, Strasbourg" in html
    assert "Questions for my doctor" in html
    assert re.search(r"Printed on [\w.]+ \d+, \d{4}", html)
    assert "css/print.css" in html and "js/print.js" in html
    assert "My answers to the pre-screening questions" not in html


def test_it_lists_at_most_five_sites_recruiting_first_each_nearest_first(client):
    response = client.get(URL.format("NCT06129864"), {"near": "Milan"})
    sites = response.context["sites"]
    assert 1 <= len(sites) <= 5
    # Around Milan the nearest sites are not yet recruiting: recruiting ones come first.
    assert sites[0].status == "RECRUITING"
    statuses = [s.status for s in sites]
    assert statuses == sorted(statuses, key=lambda status: status != "RECRUITING")
    for status in set(statuses):
        distances = [s.distance_km for s in sites if s.status == status]
        assert distances == sorted(distances)
    html = response.content.decode()
    assert "(Recruiting)" in html  # each site with its status
    for contact in Contact.objects.filter(trial__nct_id="NCT06129864").exclude(email=""):
        assert contact.email not in html


def test_the_registry_summary_is_used_when_staff_wrote_none(client):
    trial = Trial.objects.get(nct_id="NCT05738187")
    assert not trial.plain_summary
    html = client.get(URL.format("NCT05738187")).content.decode()
    assert "As written in the registry record." in html


def test_the_answers_posted_from_the_contact_page_are_printed_and_not_stored(
    client, question, site_a
):
    data = {
        "step": "print",
        "near": "Strasbourg",
        "pre-age": "54",
        f"pre-q{question.pk}": "yes",
        # The whole contact form comes along (formaction); none of it is used or kept.
        "site": site_a.pk,
        "first_name": "Alice",
        "email": "alice@example.org",
    }
    response = client.post(URL.format("NCT05738187"), data)
    html = response.content.decode()
    assert response.status_code == 200
    assert "My answers to the pre-screening questions" in html
    assert "How old are you?" in html and "<strong>54</strong>" in html
    assert question.text in html and "<strong>Yes</strong>" in html
    assert "Alice" not in html and "alice@example.org" not in html
    assert "no-store" in response["Cache-Control"]
    assert Inquiry.objects.count() == 0


def test_the_contact_page_posts_the_answers_to_it_in_a_new_tab(client, question):
    html = client.get("/trials/NCT05738187/contact/").content.decode()
    button = re.search(r'<button[^>]*id="print-answers"[^>]*>', html).group(0)
    assert 'formaction="/trials/NCT05738187/print/"' in button
    assert 'formtarget="_blank"' in button
    assert 'name="step" value="print"' in button


def test_it_is_in_the_active_language(client):
    client.cookies["django_language"] = "fr"
    html = client.get(URL.format("NCT05738187"), HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert '<html lang="fr">' in html


def test_an_unknown_trial_is_404(client):
    assert client.get(URL.format("NCT00000000")).status_code == 404
    assert client.get("/trials/nonsense/print/").status_code == 404
