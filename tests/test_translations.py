"""English, French and Italian ship complete: every string translated, catalogues compiled."""

from pathlib import Path

import polib
import pytest

LOCALE = Path(__file__).resolve().parent.parent / "locale"


@pytest.mark.parametrize("language", ["fr", "it"])
def test_no_string_is_left_untranslated(language):
    catalogue = polib.pofile(str(LOCALE / language / "LC_MESSAGES" / "django.po"))
    untranslated = [e.msgid for e in catalogue.untranslated_entries()]
    fuzzy = [e.msgid for e in catalogue.fuzzy_entries()]
    assert untranslated == [], f"{len(untranslated)} untranslated: {untranslated[:10]}"
    assert fuzzy == [], f"{len(fuzzy)} fuzzy: {fuzzy[:10]}"


@pytest.mark.parametrize("language", ["fr", "it"])
def test_the_compiled_catalogue_matches_the_source(language):
    folder = LOCALE / language / "LC_MESSAGES"
    source = {
        (e.msgctxt, e.msgid): (e.msgstr, dict(e.msgstr_plural))
        for e in polib.pofile(str(folder / "django.po")).translated_entries()
    }
    compiled = {
        (e.msgctxt, e.msgid): (e.msgstr, dict(e.msgstr_plural))
        for e in polib.mofile(str(folder / "django.mo"))
        if e.msgid
    }
    assert compiled == source, "run `make messages` to compile the catalogues"


@pytest.mark.parametrize("language", ["fr", "it"])
def test_placeholders_survive_translation(language):
    import re

    placeholder = re.compile(r"%\(\w+\)[sd]|\{\{\s*\w+\s*\}\}")
    for entry in polib.pofile(str(LOCALE / language / "LC_MESSAGES" / "django.po")):
        if not entry.translated():
            continue
        expected = sorted(placeholder.findall(entry.msgid))
        translations = [entry.msgstr] if entry.msgstr else list(entry.msgstr_plural.values())
        for text in translations:
            wanted = set(expected)
            if entry.msgid_plural:
                # A singular form may spell the number out ("un essai"): the count may go.
                found = set(placeholder.findall(text))
                wanted = {p for p in wanted if "count" not in p or p in found}
            assert set(placeholder.findall(text)) == wanted, (entry.msgid, text)
