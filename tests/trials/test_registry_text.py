"""Registry Markdown on the pages: rendered as the registry means it, never as markup."""

import json
import re

import pytest

from tests.conftest import DEMO_DATA
from trials.markdown import render

pytestmark = pytest.mark.django_db


def test_escapes_are_resolved_and_bold_is_bold():
    html = render(r"Genes \[ESR1m\] \& size \<7mm, **not** raw")
    assert html == "<p>Genes [ESR1m] &amp; size &lt;7mm, <strong>not</strong> raw</p>\n"


def test_every_item_keeps_the_number_the_registry_wrote():
    # CommonMark would number these 2, 3, 4: a real outcome description (NCT03983954).
    html = render("2. To assess:\n\n1. OS\n2. PFS")
    assert [int(v) for v in re.findall(r'<li value="(\d+)">', html)] == [2, 1, 2]


def test_numbered_lists_keep_their_first_number_and_nesting():
    html = render("3. third\n4. fourth\n\n   * nested under four")
    assert '<ol start="3">' in html
    assert "<p>fourth</p>\n<ul>\n<li>nested under four</li>" in html


def test_lettered_lists_stay_lettered_but_a_lone_initial_is_a_sentence():
    html = render("a. first\nb. second")
    assert '<ol type="a">\n<li value="1">first</li>\n<li value="2">second</li>' in html
    assert '<ol type="A">' in render("A) first\nB) second")
    assert render("A. Smith wrote this.") == "<p>A. Smith wrote this.</p>\n"


def test_raw_html_and_scripts_never_become_markup():
    html = render('<script>alert(1)</script> <b onclick="x()">b</b> [x](javascript:alert(1))')
    assert "<script" not in html and "<b" not in html
    assert "&lt;script&gt;" in html
    assert "href" not in html  # the javascript: link stays text


def test_links_are_kept_safe_and_headings_stay_under_the_page_headings():
    html = render("# Background\n\nSee [the site](https://example.org).")
    assert "<h3>Background</h3>" in html
    assert 'href="https://example.org" rel="noopener nofollow noreferrer"' in html


def test_a_right_to_left_override_cannot_reverse_the_page():
    assert "\u202e" not in render("abc \u202e fed")
    assert "\u2066" not in render("abc \u2066 fed \u2069")


def test_the_page_shows_a_real_summary_without_markdown_escapes(client):
    record = json.loads((DEMO_DATA / "NCT01176916.json").read_text())
    summary = record["protocolSection"]["descriptionModule"]["briefSummary"]
    assert r"\&" in summary
    html = client.get("/trials/NCT01176916/").content.decode()
    assert r"\&" not in html
    assert "&amp;" in html


def test_numbered_criteria_show_their_numbers_on_the_page(client):
    html = client.get("/trials/NCT06129864/").content.decode()
    # "Participants with any of the following:" then "1. Residual disease ..." nested.
    assert '<span class="criteria-marker">1.</span> Residual disease' in html
    assert '<span class="criteria-marker">3.</span> LA-HNSCC that was treated' in html
    assert "\\&gt;" not in html and "\\>" not in html


def test_emails_and_phone_numbers_in_prose_are_masked_but_drug_codes_are_not():
    html = render(
        "Questions? Call 1-877-CTLILLY (1-877-285-4559) or write to info@example.org.\n\n"
        "Participants receive PF-07220060 (Cancer 1985; 55: 1468 1472)."
    )
    assert "285-4559" not in html and "CTLILLY" not in html and "info@example.org" not in html
    assert "•••-•••-••••" in html and "•••••@•••••" in html
    assert "PF-07220060" in html and "1468 1472" in html
