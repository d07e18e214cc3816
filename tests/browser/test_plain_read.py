"""The plain-language read and the glossary in a real browser: keyboard, no JavaScript, axe."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import axe_violations

pytestmark = pytest.mark.browser


def test_a_glossary_term_explains_itself_on_keyboard_focus_without_javascript(new_page):
    page = new_page(java_script_enabled=False)
    page.goto("/trials/NCT05738187/")
    term = page.locator(".gloss dfn", has_text="Unresectable").first
    explanation = term.locator("xpath=following-sibling::span[@class='gloss-def']")
    assert explanation.bounding_box()["width"] <= 1  # clipped until asked for
    term.focus()
    expect(explanation).to_contain_text("cannot be removed by surgery")
    assert explanation.bounding_box()["width"] > 50
    # A screen reader reads it in the flow: it is in the accessibility tree all along.
    assert "cannot be removed by surgery" in page.locator("main, body").first.inner_text()


def test_the_read_is_one_section_with_its_label_and_no_accessibility_violation(page):
    page.goto("/trials/NCT07635641/?near=Milan")
    section = page.locator("section[data-plain-read]")
    expect(section).to_have_count(1)
    expect(section).to_contain_text("made automatically")
    expect(section.locator("section")).to_have_count(0)
    assert axe_violations(page) == []
