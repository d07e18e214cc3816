"""A patient's whole journey, as the walkthrough of issue 18 did it: search → trial → contact →
emails → status page, on a 390x844 phone and a 1280x800 desktop, in English, French and Italian.

Each step is checked for what tripped patients (where the first result and the contact action
are, what each site option says, the language of every email and page), for axe-core findings,
and saved as a screenshot (test-artifacts/journey/, ignored by git) for review.
"""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from notifications import emails
from notifications.models import EmailStatus, OutgoingEmail
from patients.models import Inquiry
from tests.browser.conftest import ARTIFACTS, axe_violations
from tests.browser.test_contact import fill_contact_form
from tests.conftest import clear_rate_limits

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
SCREENS = {"phone": PHONE, "desktop": DESKTOP}
PREFIX = {"en": "", "fr": "/fr", "it": "/it"}
LOCALES = {"en": "en-GB", "fr": "fr-FR", "it": "it-IT"}
RECRUITING = {"en": "Recruiting", "fr": "Recrutement en cours", "it": "In fase di reclutamento"}
# Interactive elements smaller than 44x44 CSS px on a phone (a checkbox counts with its label's
# row; links inside sentences are not targets of their own).
SMALL_TARGETS_JS = """() => [...document.querySelectorAll(
    'a.btn, button, input, select, textarea, summary, .nav-link, .page-link')]
  .filter(e => e.checkVisibility() && e.type !== 'hidden' && !e.closest('.tf-hp'))
  .map(e => ['checkbox', 'radio'].includes(e.type) ? (e.closest('.form-check') || e) : e)
  .filter(e => { const r = e.getBoundingClientRect(); return r.height < 44 || r.width < 44; })
  .map(e => e.outerHTML.slice(0, 80))"""


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    clear_rate_limits()
    yield
    clear_rate_limits()


def step(page, name: str, *, phone: bool) -> None:
    """Every step: no serious axe-core finding, no tap target under 44 px on a phone, no
    horizontal scroll, and a screenshot to look at."""
    assert axe_violations(page) == [], name
    width = page.viewport_size["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width, name
    if phone:
        assert page.evaluate(SMALL_TARGETS_JS) == [], name
    folder = ARTIFACTS / "journey"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def top(page, selector: str) -> float:
    return page.locator(selector).first.bounding_box()["y"]


def deliver_queued() -> list:
    """Send what the contact form queued, as a worker does."""
    for email_id in OutgoingEmail.objects.filter(status=EmailStatus.QUEUED).values_list(
        "id", flat=True
    ):
        emails.deliver(email_id)
    return list(mail.outbox)


@pytest.mark.parametrize("screen", ["phone", "desktop"])
@pytest.mark.parametrize("language", ["en", "fr", "it"])
def test_a_patient_goes_from_search_to_status_page(new_page, language, screen):
    viewport = SCREENS[screen]
    phone = screen == "phone"
    name = f"{language}-{screen}"
    prefix = PREFIX[language]
    # A browser whose own language is another one: the address decides.
    page = new_page(locale=LOCALES["it" if language == "en" else "en"], viewport=viewport)

    # 1. Search: the first result within the first screen, filters behind "Filters (n)".
    page.goto(f"{prefix}/?q=head+and+neck+cancer&near=Strasbourg&age=64")
    expect(page.locator("html")).to_have_attribute("lang", language)
    first_result = page.locator(".trial-list li").first
    expect(first_result).to_be_visible()
    assert top(page, ".trial-list li") < viewport["height"]
    filters = page.locator("#filters")
    summary = page.locator("#filters-heading")
    expect(summary).to_contain_text("(1)")  # the age
    if phone:
        expect(filters).not_to_have_attribute("open", "")
        summary.click()
        expect(page.locator("#id_age")).to_be_visible()
        summary.click()
    else:
        expect(page.locator("#id_age")).to_be_visible()
    step(page, f"{name}-1-search", phone=phone)

    # 2. The trial page: the contact action in reach without covering the page.
    page.goto(f"{prefix}/trials/NCT05738187/?near=Strasbourg")
    expect(page.locator("html")).to_have_attribute("lang", language)
    if phone:
        bar = page.locator("#contact-bar a")
        expect(bar).to_be_in_viewport()
        page.mouse.wheel(0, 3000)
        expect(bar).to_be_in_viewport()
        # At the very end, the footer's last line is above the bar, not under it.
        page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        footer = page.locator(".site-footer p").last.bounding_box()
        assert footer["y"] + footer["height"] <= bar.bounding_box()["y"] + 1
        page.evaluate("window.scrollTo(0, 0)")
        contact = bar
    else:
        contact = page.locator("#contact-site")
        assert top(page, "#contact-site") < viewport["height"]
        expect(page.locator("#contact-bar")).to_be_hidden()
    structured = page.locator('script[type="application/ld+json"]').text_content()
    assert '"MedicalTrial"' in structured
    step(page, f"{name}-2-trial", phone=phone)

    # 3. The contact form: each site option names facility, city, status and distance.
    contact.click()
    expect(page).to_have_url(re.compile(rf"{prefix}/trials/NCT05738187/contact/\?near="))
    options = page.locator("#id_site option").all_text_contents()
    for label in options:
        facility_and_place, status, *_distance = label.split(" · ")
        assert " — " in facility_and_place, label
        assert status == RECRUITING[language], label
    assert "Strasbourg" in page.locator("#id_site option:checked").text_content()
    fill_contact_form(page)
    step(page, f"{name}-3-contact", phone=phone)
    page.locator('button[name="step"][value="send"]').click()
    expect(page.locator("html")).to_have_attribute("lang", language)
    step(page, f"{name}-4-sent", phone=phone)

    # 4. The emails: the patient's in their language; the team's in its own.
    inquiry = Inquiry.objects.get()
    assert inquiry.language == language
    sent = deliver_queued()
    copy = next(m for m in sent if m.to == [inquiry.email])
    team = next(m for m in sent if m.to != [inquiry.email])
    assert copy.extra_headers["Content-Language"] == language
    assert f'<html lang="{language}">' in copy.alternatives[0][0]
    # The site has no TrialFinder account: its country's language (France).
    assert team.extra_headers["Content-Language"] == "fr"
    status_url = re.search(r"https?://\S+/inquiries/status/[^/\s]+/", copy.body).group(0)
    assert f"{prefix}/inquiries/status/" in status_url

    # 5. The status page, from the email's link, in the patient's language.
    page.goto(status_url)
    expect(page.locator("html")).to_have_attribute("lang", language)
    step(page, f"{name}-5-status", phone=phone)


@pytest.mark.parametrize("path", ["/", "/trials/NCT06129864/?near=Milan", "/trials/NCT05738187/"])
def test_nothing_scrolls_sideways_on_a_320_px_screen(new_page, path):
    page = new_page(viewport={"width": 320, "height": 640})
    page.goto(path)
    assert page.evaluate("document.documentElement.scrollWidth") <= 320


def test_every_page_has_a_favicon(page):
    page.goto("/")
    answer = page.request.get("/favicon.ico")
    assert answer.ok and answer.headers["content-type"] in (
        "image/x-icon",
        "image/vnd.microsoft.icon",
    )
