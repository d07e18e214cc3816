"""A database outage longer than the retries, in Chromium (issue 22): the patient gets a 503 page
in her language with her message kept in the form, sends it again once the database is back,
and one inquiry is stored. Read-only pages answer a branded 503 too, never a traceback.

The portal runs as production does (tests/browser/production.py) and reaches PostgreSQL through
a link the test cuts for real (tests/network.py): connections reset, new ones refused.
"""

import urllib.parse

import pytest
from playwright.sync_api import expect

from patients.models import Inquiry
from tests.browser.production import ProductionServer
from tests.conftest import clear_rate_limits
from tests.conftest import worker_database_url as database_url
from tests.network import CuttableLink

pytestmark = pytest.mark.browser

MESSAGE = "Mon cancer est revenu après la radiothérapie. Puis-je participer ?"


@pytest.fixture
def outage(seed_trials, tmp_path):
    clear_rate_limits()
    database = urllib.parse.urlsplit(database_url())
    link = CuttableLink(database.hostname or "127.0.0.1", database.port or 5432)
    through_link = database._replace(netloc=f"{database.username}@127.0.0.1:{link.port}")
    server = ProductionServer(
        tmp_path / "static",
        tmp_path / "gunicorn.log",
        env={
            "DATABASE_URL": urllib.parse.urlunsplit(through_link),
            # Short retries: the test needs the outage to outlast them.
            "DB_OUTAGE_RETRY_SECONDS": "2",
        },
    )
    server.start()
    yield server, link
    server.stop()
    link.close()
    clear_rate_limits()


@pytest.fixture
def browser_page(chromium, outage):
    server, _link = outage
    context = chromium.new_context(base_url=server.url, locale="fr-FR")
    context.set_default_timeout(20_000)
    yield context.new_page()
    context.close()


def test_a_message_sent_during_an_outage_is_kept_and_sent_again_later(outage, browser_page):
    server, link = outage
    page = browser_page
    page.goto("/trials/NCT05738187/contact/?near=Strasbourg")
    page.locator("#id_first_name").fill("Amélie")
    page.locator("#id_last_name").fill("Durand")
    page.locator("#id_email").fill("amelie.durand@example.org")
    page.locator("#id_phone").fill("06 12 34 56 78")
    page.locator("#id_message").fill(MESSAGE)
    page.locator("#id_consent").check()

    # 1. PostgreSQL goes away as she presses "send", for longer than the retries.
    link.cut()
    with page.expect_navigation() as sent:
        page.locator('button[name="step"][value="send"]').click()
    response = sent.value
    assert response.status == 503
    assert response.headers["retry-after"] == "60"
    assert "no-store" in response.headers["cache-control"]
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.locator("h1")).to_have_text("Nous n\u2019avons pas pu enregistrer votre envoi")
    expect(page.locator("main")).to_contain_text("Rien n\u2019a été envoyé")
    expect(page.locator("#kept-message")).to_have_value(MESSAGE)
    assert "Durand" not in page.url and "Amélie" not in urllib.parse.unquote(page.url)

    # 2. The other pages say so too, in the portal's own page.
    other = page.context.new_page()
    answer = other.goto("/trials/NCT05738187/")
    assert answer.status == 503 and answer.headers["retry-after"] == "60"
    expect(other.locator("h1")).to_have_text("Cette page est momentanément indisponible")
    expect(other.locator(".navbar-brand")).to_contain_text("TrialFinder")
    assert "Traceback" not in other.content()

    # 3. The database is back: "Try again" sends what was kept, once.
    link.restore()
    with page.expect_navigation() as again:
        page.locator("form.outage-retry button[type=submit]").click()
    assert again.value.status == 200
    assert "/contact/sent/" in page.url
    inquiry = Inquiry.objects.get()
    assert (inquiry.first_name, inquiry.message) == ("Amélie", MESSAGE)

    # Nothing she typed reached the server's log, not even its access log.
    log = server.log.read_text(errors="replace")
    assert "database unavailable for contact" in log
    for typed in ("radiothérapie", "radioth%C3%A9rapie", "amelie.durand", "Durand"):
        assert typed not in log
