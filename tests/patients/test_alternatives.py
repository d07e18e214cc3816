"""Other trials when ruled out: same condition, near the same place, never the trial itself; on
the contact page (pre-screening "may not be eligible"), on the status page and in the "not
eligible" email with a one-click alert."""

import datetime
import re
from urllib.parse import parse_qsl, urlsplit

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from notifications.models import Subscription, SubscriptionStatus
from patients import alternatives, services
from patients.models import InquiryStatus, PrescreenQuestion
from tests.patients.conftest import create
from trials import geo
from trials.models import Trial
from trials.search import search_trials

pytestmark = pytest.mark.django_db

STRASBOURG = geo.Point(48.58392, 7.74553, "Strasbourg, France")


def within(hit, km: float) -> bool:
    return hit.nearest_site and hit.nearest_site["distance_km"] <= km


def test_alternatives_are_near_the_same_place_and_exclude_the_trial():
    trial = Trial.objects.get(nct_id="NCT05738187")
    found = alternatives.alternatives_for(trial, "Strasbourg")
    # Its only condition is "Recurrent Head and Neck Cancer": searched as its known core phrase.
    assert found.params.q == '"head and neck cancer"'
    assert found.params.point.label == "Strasbourg, France" and found.params.radius_km == 100
    assert 1 <= len(found.hits) <= 4 and not found.widened
    assert trial.pk not in [hit.trial.pk for hit in found.hits]
    assert all(within(hit, 100) for hit in found.hits)
    assert all(hit.trial.is_open for hit in found.hits)


def test_the_trial_itself_would_have_been_the_best_match():
    """The exclusion matters: the same search, as a patient runs it, finds the trial first."""
    trial = Trial.objects.get(nct_id="NCT05738187")
    found = alternatives.alternatives_for(trial, "Strasbourg")
    assert search_trials(found.params).hits[0].trial == trial
    assert trial not in [hit.trial for hit in found.hits]


def test_other_conditions_are_not_offered():
    """A breast cancer trial next door whose text mentions the head and the neck is not "the
    same condition"."""
    trial = Trial.objects.get(nct_id="NCT05738187")
    found = alternatives.alternatives_for(trial, "Strasbourg")
    assert "NCT05952557" not in [hit.trial.nct_id for hit in found.hits]
    for hit in found.hits:
        assert "Breast" not in hit.trial.title


def test_the_first_mesh_term_is_the_condition_searched():
    trial = Trial.objects.get(nct_id="NCT07635641")
    found = alternatives.alternatives_for(trial, "Milan")
    assert found.params.q == '"head and neck neoplasms"'
    assert trial.pk not in [hit.trial.pk for hit in found.hits]
    assert found.hits and all(within(hit, 100) for hit in found.hits)


def test_with_nothing_within_100_km_it_looks_further():
    trial = Trial.objects.get(nct_id="NCT05738187")
    found = alternatives.alternatives_for(trial, "64.14,-21.94")  # Reykjavik
    assert found.widened and found.params.radius_km is None
    assert found.hits and trial.pk not in [hit.trial.pk for hit in found.hits]


def test_an_unknown_place_searches_everywhere():
    trial = Trial.objects.get(nct_id="NCT05738187")
    found = alternatives.alternatives_for(trial, "Nowhereville")
    assert found.params.near == "" and found.hits


def test_a_trial_without_a_condition_has_no_alternatives():
    trial = Trial.objects.get(nct_id="NCT05738187")
    trial.conditions, trial.condition_meshes = [], []
    assert alternatives.alternatives_for(trial, "Strasbourg") is None


def test_without_a_stored_place_the_sites_town_is_used(site_a, alice):
    inquiry = create(site_a, alice)
    assert inquiry.near == ""
    found = alternatives.alternatives_for_inquiry(inquiry)
    assert found.params.point.label == "Strasbourg, France"


# --- the contact page --------------------------------------------------------------------------


@pytest.fixture
def question():
    trial = Trial.objects.get(nct_id="NCT05738187")
    return PrescreenQuestion.objects.create(
        trial=trial, text="Has your cancer come back in an area already treated by radiation?"
    )


def test_may_not_be_eligible_offers_other_trials_nearby(client, question, site_a):
    data = {"step": "check", "near": "Strasbourg", f"pre-q{question.pk}": "no", "site": site_a.pk}
    response = client.post("/trials/NCT05738187/contact/?near=Strasbourg", data)
    html = response.content.decode()
    assert "You may not be eligible for this trial" in html
    assert "Other trials that may suit you" in html
    found = response.context["alternatives"]
    assert found.hits
    section = html[
        html.index('id="alternatives"') : html.index("</section>", html.index('id="alternatives"'))
    ]
    for hit in found.hits:
        assert f'href="/trials/{hit.trial.nct_id}/?near=Strasbourg"' in section
    assert "NCT05738187" not in section
    subscribe = re.search(r'href="(/alerts/subscribe/\?[^"]+)"', html).group(1)
    query = dict(parse_qsl(urlsplit(subscribe.replace("&amp;", "&")).query))
    assert query == {"q": '"head and neck cancer"', "near": "Strasbourg"}


def test_may_be_eligible_offers_no_other_trials(client, question, site_a):
    data = {"step": "check", f"pre-q{question.pk}": "yes", "site": site_a.pk}
    response = client.post("/trials/NCT05738187/contact/", data)
    assert "You may be eligible" in response.content.decode()
    assert "alternatives" not in response.context


def test_the_place_searched_from_is_kept_with_the_inquiry(client, alice, site_a, monkeypatch):
    from notifications.tasks import deliver_email

    monkeypatch.setattr(deliver_email, "delay", lambda email_id: None)
    client.post("/trials/NCT05738187/contact/", {**alice, "site": site_a.pk, "near": "Strasbourg"})
    client.post(
        "/trials/NCT05738187/contact/",
        {**alice, "email": "a2@example.org", "site": site_a.pk, "near": "48.5839,7.7455"},
    )
    from patients.models import Inquiry

    assert sorted(Inquiry.objects.values_list("near", flat=True)) == ["48.6,7.7", "Strasbourg"]


# --- the "not eligible" email and its one-click alert ------------------------------------------


@pytest.fixture
def ruled_out(site_a, alice, bob, send_all):
    inquiry = create(site_a, alice)
    inquiry.near = "Strasbourg"  # where alice searched from
    inquiry.save()
    send_all()
    mail.outbox.clear()
    services.inquiry_change_status(inquiry=inquiry, to_status=InquiryStatus.NOT_ELIGIBLE, actor=bob)
    return inquiry


def one_click_link(message) -> str:
    # In the patient's language: /fr/ for these French-speaking patients.
    found = re.search(r"http://testserver((?:/fr)?/alerts/one-click/[^/\s]+/)", message.body)
    return found.group(1)


def test_the_not_eligible_email_offers_nearby_trials_and_a_one_click_alert(
    ruled_out,
    send_all,
):
    (message,) = send_all()
    assert message.subject == "Votre demande\u00a0: cet essai ne vous convient pas"
    found = alternatives.alternatives_for(ruled_out.trial, "Strasbourg")
    assert found.hits
    for hit in found.hits:
        assert hit.trial.title in message.body
        assert f"/trials/{hit.trial.nct_id}/" in message.body
        # The nearest site and how far it is (French puts a no-break space before "km").
        assert re.search(rf"{hit.nearest_site['city']} \((environ |à ).*?\)", message.body)
    assert "/trials/NCT05738187/\n" not in message.body.split("Où en est votre demande")[0]
    assert one_click_link(message)
    html = message.alternatives[0][0]
    assert "M\u2019envoyer un e-mail quand un nouvel essai de ce type s\u2019ouvre" in html


def test_one_click_turns_the_alert_on_at_once_and_only_once(client, ruled_out, send_all):
    link = one_click_link(send_all()[0])
    page = client.get(link)
    # The link opens in the patient's language (French), whatever the browser says.
    assert page.status_code == 200 and "M\u2019envoyer des alertes" in page.content.decode()
    assert page["Referrer-Policy"] == "same-origin"
    assert not Subscription.objects.exists()  # a mail scanner following the link does nothing

    response = client.post(link)
    assert response.status_code == 200
    assert "Votre alerte est activée" in response.content.decode()
    subscription = Subscription.objects.get()
    assert subscription.status == SubscriptionStatus.ACTIVE
    assert subscription.subscriber.email == "alice.martin@example.org"
    assert subscription.subscriber.language == "fr"
    assert dict(subscription.query) == {"q": '"head and neck cancer"', "near": "Strasbourg"}
    assert subscription.latitude == pytest.approx(STRASBOURG.latitude)
    assert subscription.radius_km == 100
    assert not [m for m in mail.outbox if "confirm" in m.subject.lower()]  # no second step

    client.post(link)
    assert Subscription.objects.count() == 1


def test_a_tampered_one_click_link_changes_nothing(client, ruled_out, send_all):
    link = one_click_link(send_all()[0])
    token = link.split("/")[3]
    for bad in (token[:-3] + "abc", "x" + token, "nothing"):
        response = client.post(f"/alerts/one-click/{bad}/")
        assert response.status_code == 400
        assert "This link does not work" in response.content.decode()
    assert not Subscription.objects.exists()


def test_the_one_click_link_expires_and_dies_with_the_inquiry(client, ruled_out, send_all):
    link = one_click_link(send_all()[0])
    with time_machine.travel(timezone.now() + datetime.timedelta(days=91)):
        assert client.post(link).status_code == 400
    services.inquiry_withdraw(inquiry=ruled_out)
    assert client.post(link).status_code == 400
    assert not Subscription.objects.exists()
    ruled_out.refresh_from_db()
    assert ruled_out.near == ""  # the place is erased with the rest


def test_the_status_page_offers_them_too(client, ruled_out):
    response = client.get(f"/inquiries/status/{services.status_token(ruled_out)}/")
    html = response.content.decode()
    assert "This trial is not the right one for you" in html
    assert "Other trials that may suit you" in html
    assert 'action="/alerts/one-click/' in html
    assert ruled_out.trial.pk not in [h.trial.pk for h in response.context["alternatives"].hits]


def test_alternatives_are_open_to_the_age_and_sex_the_patient_gave():
    """A 16-year-old ruled out is not offered trials for adults only."""
    trial = Trial.objects.get(nct_id="NCT05738187")
    found = alternatives.alternatives_for(trial, "Milan", age=16, sex="MALE")
    assert found.params.age == 16 and found.params.sex == "MALE"
    for hit in found.hits:
        low = hit.trial.minimum_age_days
        assert low is None or low <= 16 * 365.25 + 1
        assert hit.trial.sex in ("ALL", "MALE")
    adults = alternatives.alternatives_for(trial, "Milan")
    assert any((hit.trial.minimum_age_days or 0) > 17 * 365 for hit in adults.hits), (
        "the demo data must hold an adults-only alternative for this test to mean anything"
    )


def test_alternatives_are_the_same_condition_or_a_narrower_one_never_a_sibling():
    """Throat (larynx) cancer: not an oesophageal cancer trial, however near."""
    trial = Trial.objects.get(nct_id="NCT04057209")
    specific = alternatives.specific_conditions(trial)
    assert "Laryngeal Neoplasms" in specific
    found = alternatives.alternatives_for(trial, "Milan")
    assert not any("Esophageal Neoplasms" in h.trial.condition_meshes for h in found.hits)
    ranks = []
    for hit in found.hits:
        same = bool(specific & set(hit.trial.condition_meshes))
        narrower = bool(specific & set(hit.trial.condition_ancestors))
        assert same or narrower, (hit.trial.nct_id, hit.trial.condition_meshes)
        ranks.append(0 if same else 1)
    assert ranks == sorted(ranks)  # the same condition first
