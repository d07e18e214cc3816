"""The trial page: /trials/<NCT id>/."""

import datetime

import pytest

from trials.models import Contact, Trial

pytestmark = pytest.mark.django_db


def test_it_shows_every_section_of_the_seed_page(client):
    html = client.get("/trials/NCT05738187/").content.decode()
    assert "Evaluation of the Efficacy and Safety of Local Cryotherapy" in html
    assert "Recruiting" in html and "18 years and older" in html and "All sexes" in html
    assert "Not applicable" in html  # Phase N/A
    assert "squamous cell carcinomas of the head and neck (SCCHN)" in html  # overview
    assert "You may be able to take part if" in html
    assert "Unresectable locoregional recurrence in a previously irradiated area" in html
    assert "You may not be able to take part if" in html
    assert "Pregnant or breastfeeding women" in html
    assert "Recurrent Head and Neck Cancer" in html  # as listed by the registrant
    assert "Local Cryotherapy Treatment" in html
    assert "University Hospital, Strasbourg" in html
    assert "https://clinicaltrials.gov/study/NCT05738187" in html


def test_it_shows_the_portal_texts_with_a_disclaimer(client):
    trial = Trial.objects.get(nct_id="NCT07635641")
    trial.plain_summary = "This study tests proton therapy."
    trial.what_it_could_lead_to = "If successful, a safer option."
    trial.what_could_go_wrong = "A small study with no comparison group."
    trial.save()
    html = client.get("/trials/NCT07635641/").content.decode()
    assert "This study tests proton therapy." in html
    assert "What this could lead to" in html and "If successful, a safer option." in html
    assert "What could go wrong" in html
    assert "not medical advice" in html
    assert "Head and Neck Neoplasms" in html and "As listed by the trial registrant" in html


def test_contact_details_are_never_printed(client):
    trial = Trial.objects.get(nct_id="NCT06129864")
    emails = set(
        Contact.objects.filter(trial=trial).exclude(email="").values_list("email", flat=True)
    )
    phones = set(
        Contact.objects.filter(trial=trial).exclude(phone="").values_list("phone", flat=True)
    )
    assert emails and phones
    html = client.get("/trials/NCT06129864/").content.decode()
    for value in emails | phones:
        assert value not in html
    assert "•••••@•••••" in html


def test_sites_carry_their_own_status_and_come_nearest_first(client):
    response = client.get("/trials/NCT06129864/", {"near": "Milan"})
    sites = response.context["open_sites"]
    # Recruiting sites first, then not-yet-recruiting ones, each nearest first: around Milan
    # the nearest sites are not yet recruiting, and must not be offered first.
    statuses = [s.status for s in sites]
    assert statuses == sorted(statuses, key=lambda status: status != "RECRUITING")
    for status in ("RECRUITING", "NOT_YET_RECRUITING"):
        distances = [s.distance_km for s in sites if s.status == status and s.distance_km]
        assert distances == sorted(distances), status
    assert sites[0].status == "RECRUITING"
    not_yet = [s for s in sites if s.status == "NOT_YET_RECRUITING"]
    assert not_yet[0].distance_km < 15
    html = response.content.decode()
    recruiting = statuses.count("RECRUITING")
    assert f"{recruiting} recruiting sites · {len(not_yet)} not yet recruiting" in html
    assert response.context["other_sites"]  # withdrawn sites are listed apart


def test_history_says_what_changed_and_when(client, tmp_path):
    import json

    from tests.conftest import DEMO_DATA
    from trials.importer import Importer
    from trials.sources import iter_source

    record = json.loads((DEMO_DATA / "NCT06256588.json").read_text())
    status = record["protocolSection"]["statusModule"]
    already_updated = (
        status["lastUpdatePostDateStruct"]["date"] > (status["studyFirstPostDateStruct"]["date"])
    )
    status["overallStatus"] = "ACTIVE_NOT_RECRUITING"
    status["lastUpdatePostDateStruct"]["date"] = "2099-01-05"  # the registry dates each update
    path = tmp_path / "x.json"
    path.write_text(json.dumps(record))
    Importer().run(iter_source(path))
    html = client.get("/trials/NCT06256588/").content.decode()
    # Updates before the first copy we saw are unknown: then the count is a minimum.
    assert ("Updated at least 2 times" if already_updated else "Updated 1 time") in html
    assert "The study is now active, not recruiting (it was recruiting)." in html
    assert "recruitment status" in html


def test_a_trial_with_an_unknown_status_warns(client):
    Trial.objects.filter(nct_id="NCT05738187").update(overall_status="UNKNOWN")
    html = client.get("/trials/NCT05738187/").content.decode()
    assert "may not be recruiting any more" in html


def test_lower_case_ids_work_and_bad_ids_are_404(client):
    assert client.get("/trials/nct05738187/").status_code == 200
    assert client.get("/trials/NCT99999999/").status_code == 404
    assert client.get("/trials/banana/").status_code == 404


def test_page_title_and_description_are_set_for_sharing(client):
    html = client.get("/trials/NCT05738187/").content.decode()
    assert "<title>Evaluation of the Efficacy" in html
    assert '<meta name="description" content="In France, squamous cell carcinomas' in html
    assert 'property="og:title"' in html


def test_the_trial_page_uses_a_bounded_number_of_queries(client, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        response = client.get("/trials/NCT06129864/", {"near": "Milan"})
    assert response.status_code == 200


def test_first_posted_first_seen_and_update_count_are_shown(client):
    trial = Trial.objects.get(nct_id="NCT07635641")
    trial.first_seen_at = datetime.datetime(2026, 6, 25, tzinfo=datetime.UTC)
    trial.save()
    html = client.get("/trials/NCT07635641/").content.decode()
    # The registry's dates, and apart from them when this portal first saw the trial.
    assert "First posted on the registry June 25, 2026" in html
    assert "Last updated on the registry June 27, 2026" in html
    # Posted on the 25th, updated on the 27th: one update, at least (earlier ones are unknown).
    assert "Updated at least 1 time" in html
    assert "First seen on TrialFinder June 25, 2026" in html


def test_the_page_is_translated(client):
    html = client.get("/trials/NCT05738187/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Critères" in html or "Vous pourriez participer si" in html
    html = client.get("/trials/NCT05738187/", HTTP_ACCEPT_LANGUAGE="it").content.decode()
    assert "Potresti partecipare se" in html


def test_the_learn_page_answers_the_usual_questions(client):
    html = client.get("/learn/").content.decode()
    for question in (
        "What is a clinical trial?",
        "Why should I take part in a clinical trial?",
        "How long does a clinical trial take?",
        "Do I get compensated for taking part?",
        "How safe are clinical trials?",
        "What do the phases mean?",
        "What does “recruiting” mean?",
        "What happens after I contact a study site?",
    ):
        assert question in html
    fr = client.get("/learn/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert (
        "Qu\u2019est-ce qu\u2019un essai clinique\u00a0?" in fr
        or "Qu'est-ce qu'un essai clinique" in fr
    )
