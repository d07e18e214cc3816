"""What taking part involves, and who wrote and reviewed the plain-language texts: portal-owned
fields, edited by staff in the admin (with the reading grade), shown on the trial page, never
touched by imports."""

import datetime
import json
import re

import pytest

from tests.conftest import SEED_DATA
from trials.importer import TRIAL_UPDATE_FIELDS, Importer
from trials.models import TAKING_PART_FIELDS, TRIAL_PORTAL_FIELDS, Trial
from trials.sources import iter_source

pytestmark = pytest.mark.django_db

CHANGE = "/admin/trials/trial/{}/change/"


def panel(html: str) -> str:
    start = html.find('id="taking-part"')
    return "" if start < 0 else html[start : html.index("</section>", start)]


def test_the_panel_shows_only_the_filled_fields(client):
    trial = Trial.objects.get(nct_id="NCT05738187")
    trial.visits = "About 12 visits over 6 months"
    trial.placebo_chance = "No placebo: everyone gets the treatment"
    trial.travel_help = "   "
    trial.save()
    html = panel(client.get("/trials/NCT05738187/").content.decode())
    assert "What taking part involves" in html
    assert "<dt" in html and html.count("<dt") == 2
    assert "Visits" in html and "About 12 visits over 6 months" in html
    assert "Chance of getting a placebo" in html and "No placebo" in html
    for absent in ("Travel help", "Overnight stays", "Payment", "Follow-up", "Length of a visit"):
        assert absent not in html


def test_without_any_field_there_is_no_panel(client):
    html = client.get("/trials/NCT05738187/").content.decode()
    assert panel(html) == "" and "What taking part involves" not in html


def test_every_field_has_its_label_in_order():
    trial = Trial(**{name: f"{name} text" for name in TAKING_PART_FIELDS})
    assert [label for label, _text in trial.taking_part] == [
        "visits",
        "length of a visit",
        "overnight stays",
        "chance of getting a placebo",
        "payment or expense cover",
        "travel help",
        "follow-up",
    ]


def test_the_plain_texts_say_who_wrote_and_reviewed_them(client):
    trial = Trial.objects.get(nct_id="NCT07635641")
    trial.plain_summary = "This study tests proton therapy."
    trial.plain_written_by = "TrialFinder editors"
    trial.plain_reviewed_by = "the study team"
    trial.plain_reviewed_on = datetime.date(2026, 3, 3)
    trial.save()
    html = client.get("/trials/NCT07635641/").content.decode()
    credit = re.search(r'<p class="small text-muted plain-credit"[^>]*>(.*?)</p>', html, re.S)
    assert " ".join(credit.group(1).split()) == (
        "Written by TrialFinder editors. Reviewed by the study team on March 3, 2026."
    )


def test_a_review_without_a_date_says_who_only(client):
    Trial.objects.filter(nct_id="NCT07635641").update(
        plain_summary="This study tests proton therapy.", plain_reviewed_by="the study team"
    )
    html = client.get("/trials/NCT07635641/").content.decode()
    assert "Reviewed by the study team." in html and "Written by" not in html


def test_imports_never_overwrite_the_portals_fields(tmp_path):
    assert not set(TRIAL_PORTAL_FIELDS) & set(TRIAL_UPDATE_FIELDS)
    trial = Trial.objects.get(nct_id="NCT05738187")
    trial.visits = "About 12 visits over 6 months"
    trial.payment = "Travel costs refunded"
    trial.plain_reviewed_by = "the study team"
    trial.plain_reviewed_on = datetime.date(2026, 3, 3)
    trial.plain_language = "fr"
    trial.save()
    record = json.loads((SEED_DATA / "NCT05738187.json").read_text())
    record["protocolSection"]["descriptionModule"]["briefSummary"] = "Changed by the registry."
    path = tmp_path / "NCT05738187.json"
    path.write_text(json.dumps(record))
    assert Importer().run(iter_source(str(path))).updated == 1
    trial.refresh_from_db()
    assert trial.brief_summary == "Changed by the registry."
    assert (trial.visits, trial.payment) == (
        "About 12 visits over 6 months",
        "Travel costs refunded",
    )
    assert trial.plain_reviewed_on == datetime.date(2026, 3, 3)
    assert trial.plain_language == "fr"


# --- the admin -----------------------------------------------------------------------------------


def management_forms(html: str) -> dict:
    """The inline formsets' management fields, as the browser would post them back."""
    return dict(
        re.findall(r'name="([\w-]+-(?:TOTAL|INITIAL|MIN_NUM|MAX_NUM)_FORMS)" value="(\d*)"', html)
    )


def post_trial(admin_client, trial, **fields):
    url = CHANGE.format(trial.pk)
    html = admin_client.get(url).content.decode()
    data = {name: "" for name in TRIAL_PORTAL_FIELDS if name != "sites_confirmed_at"}
    data.update({"plain_language": "en", "_continue": "1", **management_forms(html), **fields})
    return admin_client.post(url, data, follow=True)


def test_staff_edit_what_taking_part_involves(admin_client):
    trial = Trial.objects.get(nct_id="NCT05738187")
    response = post_trial(
        admin_client,
        trial,
        visits="About 12 visits over 6 months",
        overnight_stays="None",
        plain_reviewed_by="the study team",
        plain_reviewed_on="2026-03-03",
    )
    assert response.status_code == 200
    trial.refresh_from_db()
    assert trial.visits == "About 12 visits over 6 months" and trial.overnight_stays == "None"
    assert trial.plain_reviewed_on == datetime.date(2026, 3, 3)


def test_the_form_carries_what_the_live_grade_needs(admin_client, settings):
    trial = Trial.objects.get(nct_id="NCT05738187")
    html = admin_client.get(CHANGE.format(trial.pk)).content.decode()
    assert "js/readability.js" in html and "css/readability-admin.css" in html
    summary = re.search(r'<textarea[^>]*name="plain_summary"[^>]*>', html).group(0)
    assert f'data-readability-target="{settings.PLAIN_LANGUAGE_TARGET_GRADE}"' in summary
    assert 'data-readability-label="Reading grade: %(grade)s."' in summary
    assert "<script>" not in html.split("</head>")[1]  # no inline script (CSP)


def test_the_admin_warns_above_the_target_grade(admin_client):
    trial = Trial.objects.get(nct_id="NCT05738187")
    hard = (
        "Evaluation of the efficacy and safety of local cryotherapy treatment of recurrent head "
        "and neck squamous cell carcinomas in previously irradiated anatomical territories."
    )
    response = post_trial(
        admin_client, trial, plain_summary=hard, plain_title="A cold treatment for cancer"
    )
    html = response.content.decode()
    assert "“plain-language summary” reads at grade 18.0, above the target of 8" in html
    assert "plain-language title” reads" not in html
    # The saved text's grade is shown on the form, flagged.
    assert re.search(r'<li class="readability-warning">plain-language summary: 18\.0</li>', html)
    assert re.search(r'<li class="">plain-language title: \d\.\d</li>', html)


def test_the_target_grade_is_a_setting(admin_client, settings):
    settings.PLAIN_LANGUAGE_TARGET_GRADE = 18
    trial = Trial.objects.get(nct_id="NCT05738187")
    response = post_trial(admin_client, trial, plain_summary="Evaluation of the efficacy.")
    assert "above the target" not in response.content.decode()


def test_the_grade_follows_the_language_staff_wrote_in(admin_client):
    trial = Trial.objects.get(nct_id="NCT05738187")
    text = "Lo studio prova un nuovo farmaco. I pazienti vanno in ospedale una volta al mese."
    response = post_trial(admin_client, trial, plain_summary=text, plain_language="it")
    assert re.search(r"plain-language summary: 4\.[12]</li>", response.content.decode())
