"""Issue 9 in real Chromium: the printable summary (print media, A4 PDF), the patient's status
page, "Print my answers" from the contact page, and the admin's live reading grade, which must
agree with the server's."""

import re

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from patients import services
from patients.models import Inquiry, InquiryStatus, PrescreenQuestion
from tests.browser.conftest import ARTIFACTS, PHONE, axe_violations, make_inquiry, screenshot
from trials import readability
from trials.models import Trial

pytestmark = pytest.mark.browser

PRESCREEN = {
    "result": "may_be_eligible",
    "age": 61,
    "answers": [
        {"kind": "age", "question": "How old are you?", "answer": "61", "suggests_eligible": True},
        {
            "kind": "question",
            "question": "Has your cancer come back in an area already treated by radiation?",
            "answer": "yes",
            "suggests_eligible": True,
        },
    ],
}


@pytest.fixture(autouse=True)
def _every_test_with_fresh_rate_limits(fresh_rate_limits):
    pass


@pytest.fixture
def described_trial(seed_trials):
    trial = Trial.objects.get(nct_id="NCT05738187")
    trial.plain_summary = (
        "Doctors freeze the tumour with a fine needle, under local anaesthetic. They want to "
        "know if this is safe and if it slows the cancer down."
    )
    trial.plain_written_by = "TrialFinder editors"
    trial.plain_reviewed_by = "the study team"
    trial.plain_reviewed_on = "2026-03-03"
    trial.visits = "About 8 visits over 6 months"
    trial.visit_length = "Half a day for the treatment, 1 hour for the check-ups"
    trial.overnight_stays = "One night in hospital after the treatment"
    trial.placebo_chance = "No placebo: everyone gets the treatment"
    trial.travel_help = "Taxi to and from the hospital paid by the study"
    trial.save()
    return trial


def pdf_pages(data: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?!s)", data))


def test_the_printable_summary_prints_cleanly_on_a4(page, described_trial):
    page.goto("/trials/NCT05738187/print/?near=Strasbourg")
    assert axe_violations(page) == []
    expect(page.locator("#print-title")).to_have_text(described_trial.title)
    expect(page.locator("[data-print]")).to_be_visible()  # with JavaScript
    page.emulate_media(media="print")
    expect(page.locator(".site-header")).to_be_hidden()
    expect(page.locator(".site-footer")).to_be_hidden()
    expect(page.locator(".print-actions")).to_be_hidden()
    expect(page.locator("#taking-part")).to_contain_text("About 8 visits over 6 months")
    expect(page.locator(".plain-credit")).to_contain_text("Reviewed by the study team")
    expect(page.locator(".print-sites")).to_contain_text("University Hospital, Strasbourg")
    expect(page.locator(".doctor-questions .write-line").first).to_be_visible()
    screenshot(page, "print-summary")
    ARTIFACTS.mkdir(exist_ok=True)
    pdf = page.pdf(path=str(ARTIFACTS / "print-summary.pdf"), format="A4", print_background=False)
    assert 1 <= pdf_pages(pdf) <= 3


def test_the_print_button_opens_the_print_dialog(page, described_trial):
    page.goto("/trials/NCT05738187/print/")
    page.evaluate("() => { window.__printed = 0; window.print = () => { window.__printed++; }; }")
    page.locator("[data-print]").click()
    assert page.evaluate("window.__printed") == 1


def test_without_javascript_the_print_button_is_not_offered(new_page, described_trial):
    page = new_page(java_script_enabled=False)
    page.goto("/trials/NCT05738187/print/")
    expect(page.locator("[data-print]")).to_be_hidden()
    expect(page.locator(".print-actions")).to_contain_text("Ctrl+P")


def test_print_my_answers_from_the_contact_page(page, described_trial):
    PrescreenQuestion.objects.create(
        trial=described_trial,
        text="Has your cancer come back in an area already treated by radiation?",
    )
    page.goto("/trials/NCT05738187/contact/?near=Strasbourg")
    page.locator("#id_pre-age").fill("61")
    page.locator("input[name^='pre-q'][value='yes']").check()
    with page.context.expect_page() as opened:
        page.locator("#print-answers").click()
    printed = opened.value
    printed.wait_for_load_state()
    assert printed.url.endswith("/trials/NCT05738187/print/")  # the answers are not in it
    expect(printed.locator(".print-answers")).to_contain_text("How old are you?")
    expect(printed.locator(".print-answers")).to_contain_text("61")
    printed.emulate_media(media="print")
    screenshot(printed, "print-summary-with-answers")
    expect(page.locator("#id_pre-age")).to_have_value("61")  # the form is still there


def test_the_status_page_is_accessible_and_prints_the_answers(new_page, described_trial):
    inquiry = make_inquiry(prescreen=PRESCREEN, near="Strasbourg")
    bob = get_user_model().objects.create_user("bob", "bob@site.example.org", "x")
    from patients.roles import make_coordinator

    make_coordinator(bob, inquiry.site)
    services.inquiry_change_status(inquiry=inquiry, to_status=InquiryStatus.CONTACTED, actor=bob)
    page = new_page(viewport=PHONE)
    page.goto(f"/inquiries/status/{services.status_token(inquiry)}/")
    expect(page.locator("#status-label")).to_have_text("The research team has been in touch")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert axe_violations(page) == []
    screenshot(page, "status-page-phone")
    page.get_by_role("link", name="Printable summary of the trial, with your answers").click()
    expect(page.locator(".print-answers")).to_contain_text("Has your cancer come back")
    assert axe_violations(page) == []


def test_the_not_eligible_status_page_offers_alternatives_in_french(new_page, described_trial):
    inquiry = make_inquiry(
        near="Strasbourg"
    )  # NCT06129864, at Tübingen, is the nearest alternative
    Inquiry.objects.filter(pk=inquiry.pk).update(status=InquiryStatus.NOT_ELIGIBLE)
    page = new_page(locale="fr-FR")
    page.goto(f"/inquiries/status/{services.status_token(inquiry)}/")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.locator("#alternatives")).to_contain_text("Volrustomig")
    assert axe_violations(page) == []
    screenshot(page, "status-page-not-eligible-fr")


# --- the admin's live reading grade ----------------------------------------------------------

SAMPLES = [
    ("en", "Doctors test a new medicine for people with cancer. The study lasts one year."),
    ("en", "Participants will receive intravenous administration of the investigational drug."),
    ("en", "The tables were used, tested and needed.\nA second line without a stop"),
    ("fr", "Cette étude teste un nouveau médicament. Les patients viennent à l'hôpital."),
    ("fr", "L\u2019évaluation de l\u2019efficacité des traitements récidivants chez les âgés."),
    ("it", "Lo studio prova un nuovo farmaco. I pazienti vanno in ospedale una volta al mese."),
    ("it", "Valutazione dell'efficacia della crioterapia nei carcinomi squamocellulari."),
    ("en", ""),
]


def test_the_live_grade_agrees_with_the_server(page, seed_trials):
    page.goto("/trials/NCT05738187/print/")
    page.add_script_tag(url="/static/js/readability.js")
    for language, text in SAMPLES:
        in_browser = page.evaluate(
            "([text, language]) => window.TrialFinderReadability.grade(text, language)",
            [text, language],
        )
        expected = readability.grade(text, language)
        if expected is None:
            assert in_browser is None
        else:
            assert in_browser == pytest.approx(expected, abs=0.051), text
        for word in readability.words(text):
            assert page.evaluate(
                "([w, l]) => window.TrialFinderReadability.syllables(w, l)", [word, language]
            ) == readability.syllables(word, language), word


def test_staff_see_the_grade_as_they_type_and_a_warning_above_the_target(page, seed_trials):
    get_user_model().objects.create_superuser("admin", "admin@example.org", "a-long-password")
    page.goto("/admin/login/")
    page.locator("#id_username").fill("admin")
    page.locator("#id_password").fill("a-long-password")
    page.locator("input[type=submit]").click()
    trial = Trial.objects.get(nct_id="NCT05738187")
    page.goto(f"/admin/trials/trial/{trial.pk}/change/")
    summary = page.locator("#id_plain_summary")
    live = page.locator("#id_plain_summary_readability")
    summary.fill("Doctors test a new medicine for people with cancer. The study lasts one year.")
    expect(live).to_have_text("Reading grade: 4.0.")
    expect(live).not_to_have_class(re.compile("readability-warning"))
    summary.fill(
        "Participants will receive intravenous administration of the investigational "
        "monoclonal antibody every three weeks."
    )
    expect(live).to_contain_text("Reading grade: 18.0. Above the target of 8")
    expect(live).to_have_class(re.compile("readability-warning"))
    page.locator("#id_plain_language").select_option("it")
    expect(live).not_to_have_text(re.compile("18.0"))
    screenshot(page, "admin-reading-grade")
