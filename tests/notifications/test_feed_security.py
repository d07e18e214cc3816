"""The Atom feed carries registry text that nobody at TrialFinder wrote: a feed reader must show
it as text, never run it, and one odd record must not break the feed."""

import html
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import SEED_DATA, import_records

pytestmark = pytest.mark.django_db
ATOM = "{http://www.w3.org/2005/Atom}"
PAYLOAD = '<img src=x onerror="alert(1)"> & <script>alert(2)</script>'


def import_trial(tmp_path: Path, *, nct_id="NCT09990001", title="", summary="") -> None:
    """A recruiting study through the real importer, with texts of our choosing."""
    record = json.loads((SEED_DATA / "NCT05738187.json").read_text())
    section = record["protocolSection"]
    section["identificationModule"]["nctId"] = nct_id
    section["identificationModule"]["briefTitle"] = title
    section["descriptionModule"]["briefSummary"] = summary
    path = tmp_path / f"{nct_id}.json"
    path.write_text(json.dumps(record))
    stats = import_records(path)
    assert stats.failed == 0, stats.summary()


def reader_markup(element) -> str:
    """The HTML a feed reader puts on its page for an Atom text construct (RFC 4287, 3.1):
    type="text" is escaped for display, type="html" is used as markup."""
    kind = element.get("type", "text")
    if kind == "text":
        return html.escape(element.text or "")
    assert kind == "html", kind
    return element.text or ""


def test_a_summary_with_markup_reaches_feed_readers_as_text(client, tmp_path):
    import_trial(tmp_path, title="Zorbulatine for hiccups", summary=f"Read this: {PAYLOAD}")
    response = client.get("/trials/feed/", {"q": "zorbulatine"})
    assert response.status_code == 200
    entries = ET.fromstring(response.content).findall(f"{ATOM}entry")
    assert len(entries) == 1
    summary = entries[0].find(f"{ATOM}summary")
    markup = reader_markup(summary)
    assert "<img" not in markup and "<script" not in markup
    # The reader shows the registry's words exactly, markup characters included.
    assert PAYLOAD in html.unescape(markup)
