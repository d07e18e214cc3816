"""A patient contacts a study site from the trial page, in real Chromium."""

import re

import pytest
from playwright.sync_api import expect

from patients.models import Inquiry
from tests.browser.conftest import PHONE, axe_violations, screenshot

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _every_test_with_fresh_rate_limits(fresh_rate_limits):
    pass


def fill_contact_form(page):
    # By id, not by label: the labels are translated.
    page.locator("#id_first_name").fill("Amélie")
    page.locator("#id_last_name").fill("Durand")
    page.locator("#id_email").fill("amelie.durand@example.org")
    page.locator("#id_phone").fill("06 12 34 56 78")
    page.locator("#id_message").fill("Mon cancer est revenu après la radiothérapie.")
    page.locator("#id_consent").check()


def test_a_patient_contacts_the_site_from_the_trial_page_in_french(new_page):
    page = new_page(locale="fr-FR")
    page.goto("/trials/NCT05738187/?near=Strasbourg")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    page.locator("#contact-site").click()
    expect(page).to_have_url(re.compile(r"/trials/NCT05738187/contact/\?near=Strasbourg$"))
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.locator("#id_site")).to_have_value(re.compile(r"\d+"))
    expect(page.locator("#id_preferred_language_1")).to_be_checked()  # Français
    expect(page.locator("#id_other_language")).to_be_hidden()  # shown for "other" only
    page.locator("#id_preferred_language_3").check()
    expect(page.locator("#id_other_language")).to_be_visible()
    page.locator("#id_preferred_language_1").check()
    expect(page.locator("#id_website")).not_to_be_in_viewport()  # the honeypot
    fill_contact_form(page)
    screenshot(page, "contact-form-fr")
    page.locator('button[name="step"][value="send"]').click()

    expect(page.get_by_role("status")).to_contain_text("University Hospital, Strasbourg")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    screenshot(page, "contact-sent-fr")
    inquiry = Inquiry.objects.get()
    assert (inquiry.first_name, inquiry.phone, inquiry.language) == ("Amélie", "+33612345678", "fr")
    assert inquiry.site.city == "Strasbourg"


def test_mistakes_are_shown_next_to_each_field_and_nothing_is_saved(page):
    page.goto("/trials/NCT07635641/contact/")
    fill_contact_form(page)
    page.locator("#id_email").fill("amelie@")
    page.locator("#id_first_name").fill("<b>Amélie</b>")
    page.locator('button[name="step"][value="send"]').click()
    expect(page.locator("#form-errors")).to_be_visible()
    expect(page.locator("#id_email")).to_have_class(re.compile("is-invalid"))
    expect(page.locator("#id_first_name")).to_have_class(re.compile("is-invalid"))
    assert Inquiry.objects.count() == 0
    assert axe_violations(page) == []


@pytest.mark.parametrize("url", ["/trials/NCT05738187/contact/", "/trials/NCT06129864/contact/"])
def test_the_contact_form_has_no_serious_accessibility_violations(page, url):
    page.goto(url)
    assert axe_violations(page) == []


def test_the_contact_form_fits_a_phone(new_page):
    page = new_page(viewport=PHONE)
    page.goto("/trials/NCT06129864/contact/?near=Milan")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert axe_violations(page) == []
    screenshot(page, "contact-phone")


def test_the_contact_form_works_without_javascript(new_page):
    page = new_page(java_script_enabled=False)
    page.goto("/trials/NCT07635641/contact/")
    expect(page.locator("#id_other_language")).to_be_visible()
    fill_contact_form(page)
    page.locator('button[name="step"][value="send"]').click()
    expect(page.get_by_role("status")).to_contain_text("IRCCS Humanitas Research Hospital")
    assert Inquiry.objects.get().site.city == "Rozzano"
