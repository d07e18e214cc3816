"""A patient's path through search and a trial page, in real Chromium."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, axe_violations, screenshot

pytestmark = pytest.mark.browser


def test_search_filter_without_reload_and_open_a_trial(page):
    page.goto("/")
    page.get_by_label("What are you looking for?").fill("head and neck cancer")
    page.get_by_label("Near (city or postal code)").fill("Strasbourg")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(
        page.get_by_role("heading", name=re.compile(r"^\d+ trials? within 100 km"))
    ).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("Local Cryotherapy"))).to_be_visible()
    screenshot(page, "search-desktop")

    # Filters update the results in place (htmx), and the URL follows.
    page.evaluate("window.__noReload = true")
    page.get_by_label(re.compile("Not yet recruiting")).uncheck()
    expect(page).to_have_url(re.compile(r"status=RECRUITING(?!.*NOT_YET)"))
    expect(page.get_by_role("status")).to_contain_text("found")
    assert page.evaluate("window.__noReload") is True  # same document: no reload

    page.get_by_role("link", name=re.compile("Local Cryotherapy")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Local Cryotherapy")
    expect(page.get_by_text("You may not be able to take part if")).to_be_visible()
    expect(page.get_by_text("Strasbourg").first).to_be_visible()


def test_switch_language(page):
    page.goto("/trials/NCT07635641/")
    page.get_by_role("button", name="Italiano").click()
    expect(page.locator("html")).to_have_attribute("lang", "it")
    expect(page.get_by_role("heading", name="Contatti e sedi")).to_be_visible()
    page.get_by_role("button", name="Français").click()
    expect(page.locator("html")).to_have_attribute("lang", "fr")


def test_keyboard_only_search(page):
    page.goto("/")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to main content")).to_be_focused()
    page.keyboard.press("Enter")
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "id_q":
            break
    expect(page.get_by_label("What are you looking for?")).to_be_focused()
    page.keyboard.type("proton therapy")
    page.keyboard.press("Tab")
    page.keyboard.type("Milan")
    page.keyboard.press("Enter")
    link = page.get_by_role("link", name=re.compile("Proton therapy offers new hope"))
    expect(link).to_be_visible()
    link.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Proton therapy")


@pytest.mark.parametrize(
    "url",
    ["/?q=head+and+neck+cancer&near=Milan", "/trials/NCT05738187/?near=Strasbourg", "/learn/"],
)
def test_pages_have_no_serious_accessibility_violations(page, url):
    page.goto(url)
    assert axe_violations(page) == []


@pytest.mark.parametrize("url", ["/?q=head+and+neck+cancer&near=Milan", "/trials/NCT07635641/"])
def test_pages_work_at_phone_width(new_page, url):
    page = new_page(viewport=PHONE)
    page.goto(url)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], "no horizontal scrolling at 375 px"
    assert axe_violations(page) == []
    name = "search-phone" if url.startswith("/?") else "trial-phone"
    screenshot(page, name)


def test_search_works_without_javascript(new_page):
    page = new_page(java_script_enabled=False)
    page.goto("/")
    page.get_by_label("What are you looking for?").fill("proton therapy")
    page.get_by_label("Near (city or postal code)").fill("Milan")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(
        page.get_by_role("link", name=re.compile("Proton therapy offers new hope"))
    ).to_be_visible()
    # Without JavaScript the filters stay folded behind their "Filters" button: open it.
    page.locator("summary.filters-toggle").click()
    page.get_by_label(re.compile("Phase 3")).check() if page.get_by_label(
        re.compile("Phase 3")
    ).count() else None
    page.get_by_role("button", name="Apply filters").click()
    expect(page).to_have_url(re.compile(r"q=proton"))
