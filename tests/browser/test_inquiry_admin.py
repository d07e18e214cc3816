"""A coordinator works on an inquiry in the admin, in real Chromium."""

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from patients.models import EventKind, Inquiry
from patients.roles import make_coordinator
from tests.browser.conftest import make_inquiry, screenshot
from trials.models import Site

pytestmark = pytest.mark.browser


def test_a_coordinator_sees_moves_and_answers_an_inquiry(page, live_server):
    site = Site.objects.get(trial__nct_id="NCT05738187")
    bob = get_user_model().objects.create_user("bob", "bob@site.example.org", "a-long-password")
    make_coordinator(bob, site)
    inquiry = make_inquiry()
    page.goto("/admin/login/")
    page.locator("#id_username").fill("bob")
    page.locator("#id_password").fill("a-long-password")
    page.locator("input[type=submit]").click()
    page.goto("/admin/patients/inquiry/")
    page.get_by_role("link", name="Alice Martin").click()
    page.locator("#id_to_status").select_option("contacted")
    page.locator("#id_note").fill("Called her back.")
    page.get_by_role("button", name="Change the status").click()
    expect(page.locator(".tf-timeline")).to_contain_text("Called her back.")
    page.locator("#id_message").fill("Pouvez-vous venir lundi ?")
    page.get_by_role("button", name="Send the reply").click()
    expect(page.locator(".tf-timeline")).to_contain_text("Pouvez-vous venir lundi ?")
    screenshot(page, "admin-inquiry")
    page.goto("/admin/patients/inquiry/response-times/")
    expect(page.locator("svg.tf-chart")).to_be_visible()
    screenshot(page, "admin-response-times")
    inquiry.refresh_from_db()
    assert inquiry.status == "contacted"
    assert inquiry.events.filter(kind=EventKind.REPLY).count() == 1
    assert Inquiry.objects.count() == 1
