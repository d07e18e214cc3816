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


# --- control characters -------------------------------------------------------------------

CONTROLS = "\x01\x02\x07\x08\x0b\x0c\x1b\x1f\x7f"


def with_controls(value):
    """Every string of a record, with C0 controls (and CR line ends) inside it."""
    if isinstance(value, dict):
        return {key: with_controls(item) for key, item in value.items()}
    if isinstance(value, list):
        return [with_controls(item) for item in value]
    if isinstance(value, str) and value:
        middle = len(value) // 2
        return f"{value[:middle]}{CONTROLS}{value[middle:]}\r\n"
    return value


def text_values(value):
    """Every string inside a field's value (text, arrays, JSON)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from text_values(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from text_values(item)


def test_the_importer_cleans_control_characters_from_every_text_field(tmp_path):
    import re

    from trials.models import Contact, Site, Trial

    record = with_controls(json.loads((SEED_DATA / "NCT05738187.json").read_text()))
    record["protocolSection"]["identificationModule"]["nctId"] = "NCT09990002"
    path = tmp_path / "NCT09990002.json"
    path.write_text(json.dumps(record))
    stats = import_records(path)
    assert stats.failed == 0, stats.summary()

    trial = Trial.objects.get(nct_id="NCT09990002")
    rows = [trial, *Site.objects.filter(trial=trial), *Contact.objects.filter(trial=trial)]
    rows += list(trial.versions.all())
    texts = [
        text
        for row in rows
        for model_field in row._meta.concrete_fields
        if model_field.name != "record"  # the registry's record, kept as it came
        for text in text_values(getattr(row, model_field.attname))
    ]
    assert any("cancer" in text for text in texts)  # the walk saw the texts
    dirty = [text for text in texts if re.search(r"[\x00-\x08\x0b-\x1f\x7f]", text)]
    assert dirty == []
    # Line breaks stay line breaks (a CR LF from the registry becomes one newline).
    assert "\n\n" in trial.brief_summary or "\n" in trial.eligibility_criteria


def test_a_control_character_already_stored_does_not_break_the_feed(client, tmp_path):
    from trials.models import Trial

    import_trial(tmp_path, title="Zorbulatine for hiccups", summary="Plain words.")
    Trial.objects.filter(nct_id="NCT09990001").update(
        brief_title="Zorbulatine\x02 for\x0b hiccups", brief_summary="Plain\x1b words."
    )
    response = client.get("/trials/feed/", {"q": "zorbulatine"})
    assert response.status_code == 200
    entry = ET.fromstring(response.content).find(f"{ATOM}entry")
    assert "Zorbulatine for hiccups" in " ".join(entry.find(f"{ATOM}title").text.split())
    assert entry.find(f"{ATOM}summary").text == "Plain words."
