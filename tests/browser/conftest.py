"""Browser tests: real Chromium (Debian's) driven by Playwright against a live server.

Without Chromium the tests are skipped, and `make test` says so loudly at the end; CI sets
REQUIRE_BROWSER=1, which turns a missing browser into a failure.
"""

import os
from pathlib import Path

import pytest

from tests.conftest import CHROMIUM, CHROMIUM_ARGS, SEED_DATA, ensure_gazetteer, import_records

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
AXE = Path(__file__).with_name("vendor") / "axe-4.14.1.min.js"
PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 900}

# Playwright's sync API runs an event loop in the test thread; Django's ORM refuses to run in a
# thread with a running loop unless told that this is deliberate (it is: tests only).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def _missing_browser_reason() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"Chromium not found at {CHROMIUM} (Debian: apt-get install chromium)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright package is not installed"
    return None


def pytest_collection_modifyitems(config, items):
    reason = _missing_browser_reason()
    if not reason:
        return
    if os.environ.get("REQUIRE_BROWSER") == "1":
        raise pytest.UsageError(f"browser tests required but {reason}")
    config._browser_skip_reason = reason
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.skip(reason=f"BROWSER TESTS SKIPPED: {reason}"))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    reason = getattr(config, "_browser_skip_reason", None)
    if reason:
        terminalreporter.write_sep("!", "BROWSER TESTS WERE SKIPPED", red=True, bold=True)
        terminalreporter.write_line(f"Reason: {reason}. CI never skips them (REQUIRE_BROWSER=1).")


@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def seed_trials(transactional_db):
    """The live server's database starts empty: the two seed trials and a few real ones.

    (Only the first transactional test of a run also sees the session's demo data: the others
    start from a flushed database, so every record a test relies on is listed here, e.g.
    NCT02513394, active and not recruiting near Strasbourg, for the status filter.)
    """
    from tests.conftest import DEMO_DATA

    ensure_gazetteer()
    # NCT02513394: an "Active, not recruiting" head and neck trial near Strasbourg, which
    # the search journey filters on (only the first transactional test of a run found it,
    # in the demo data the session imported; later ones start from an emptied database).
    import_records(
        SEED_DATA,
        *[
            DEMO_DATA / f"{nct}.json"
            for nct in ("NCT06129864", "NCT06256588", "NCT04892173", "NCT02513394")
        ],
    )


@pytest.fixture
def new_page(chromium, live_server, seed_trials):
    """Open pages in fresh browser contexts: `page = new_page(locale="fr", viewport=PHONE)`."""
    contexts = []

    violations: list[str] = []

    def open_page(**options):
        options.setdefault("viewport", DESKTOP)
        options.setdefault("base_url", live_server.url)
        context = chromium.new_context(**options)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        # Anything the Content-Security-Policy blocked is a bug (an inline script or style).
        page.on(
            "console",
            lambda message: (
                violations.append(f"{message.text[:80]} at {message.location}")
                if "Content Security Policy" in message.text
                else None
            ),
        )
        page.on("pageerror", lambda error: violations.append(f"uncaught: {error}"))
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert violations == [], violations


@pytest.fixture
def page(new_page):
    return new_page()


def screenshot(page, name: str) -> Path:
    """Keep a screenshot as a test artefact (test-artifacts/, ignored by git)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def axe_violations(page, *, impacts=("serious", "critical")) -> list[dict]:
    """Run axe-core (WCAG 2.0/2.1/2.2 A and AA rules) in the page; return serious ones."""
    # evaluate(), not a <script> tag: the page's Content-Security-Policy forbids inline scripts.
    page.evaluate(AXE.read_text())
    results = page.evaluate(
        """async () => await axe.run(document, {runOnly: {type: 'tag',
             values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']}})"""
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in results["violations"]
        if v["impact"] in impacts
    ]


def make_inquiry(*, prescreen=None, near: str = ""):
    """Alice's inquiry (in French) to the Strasbourg site of NCT05738187, through the service
    the contact form uses."""
    from patients import services
    from patients.consent import CONSENT_TEXT, CONSENT_VERSION
    from trials.models import Site

    site = Site.objects.get(trial__nct_id="NCT05738187")
    return services.inquiry_create(
        trial=site.trial,
        site=site,
        data={
            "first_name": "Alice",
            "last_name": "Martin",
            "email": "alice@example.org",
            "phone": "+33612345678",
            "preferred_language": "fr",
            "message": "Bonjour",
        },
        language="fr",
        consent_text=str(CONSENT_TEXT),
        consent_version=CONSENT_VERSION,
        prescreen=prescreen,
        near=near,
    )
