"""Property: a saved search finds exactly what its page finds.

Hypothesis draws a search (patient words in en/fr/it from the vocabulary and from the trials'
own titles and conditions, misspelt or not, with quotes, exclusions, "or", NCT ids, and the
page's filters) and a few new trials (demo records recombined: one's title, another's
conditions, a third's interventions, sites and status). The alert matching of those trials
(notifications.alerts.match_new_versions, with the saved search's stored columns) must announce
exactly the trials that the search page lists among those it announces (new, open ones).
`make test` tries a few cases; `make fuzz` a quarter of FUZZ_EXAMPLES (each case imports trials
and runs the matching: about a second).
"""

import copy
import json
import random
from urllib.parse import urlencode

import pytest
from django.db import connection, transaction
from django.http import QueryDict
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from notifications import alerts
from notifications.models import AlertMatch, MatchCursor, Subscription
from tests.conftest import DEMO_DATA
from tests.fuzz.conftest import EXAMPLES, FUZZ, TRIED
from trials import engine, vocabulary
from trials.importer import Importer, index_changed_trials
from trials.search import bump_search_generation, parse_params, resolve_place, search_trials

pytestmark = pytest.mark.django_db

RECORDS = sorted(DEMO_DATA.glob("NCT*.json"))
# The vocabulary's names in the three languages (what patients type), and words of the demo
# trials' own titles and conditions (what registrants write).
PHRASES = sorted(
    {name for lang in ("en", "fr", "it") for name in vocabulary.known_phrases(lang).values()}
)


def _record_words() -> list[str]:
    found: set[str] = set()
    for path in RECORDS[::3]:
        protocol = json.loads(path.read_text())["protocolSection"]
        title = protocol["identificationModule"].get("briefTitle", "")
        conditions = protocol.get("conditionsModule", {}).get("conditions", [])
        found.update(w for w in " ".join([title, *conditions]).split() if len(w) > 3)
    return sorted(found)


WORDS = _record_words()
NCT_IDS = [path.stem for path in RECORDS[::7]]


def misspelt(word: str, rnd: random.Random) -> str:
    if len(word) < 5:
        return word
    i = rnd.randrange(1, len(word) - 1)
    return word[:i] + word[i + 1 :]  # one letter dropped, as a hurried patient types


@st.composite
def searches(draw) -> list[tuple[str, str]]:
    rnd = random.Random(draw(st.integers(0, 2**32)))
    parts = []
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["phrase", "word", "typo", "quoted", "minus", "or", "nct"]))
        if kind == "phrase":
            parts.append(draw(st.sampled_from(PHRASES)))
        elif kind == "word":
            parts.append(draw(st.sampled_from(WORDS)))
        elif kind == "typo":
            parts.append(misspelt(draw(st.sampled_from(PHRASES)), rnd))
        elif kind == "quoted":
            parts.append(f'"{draw(st.sampled_from(WORDS))}"')
        elif kind == "minus":
            parts.append(f"-{draw(st.sampled_from(WORDS))}")
        elif kind == "or":
            parts.append(f"{draw(st.sampled_from(PHRASES))} or {draw(st.sampled_from(WORDS))}")
        else:
            parts.append(draw(st.sampled_from(NCT_IDS)).lower())
    pairs = [("q", " ".join(parts))] if parts else []
    filters = {
        "status": ["any", "COMPLETED", "NOT_YET_RECRUITING"],
        "phase": ["PHASE1", "PHASE2", "PHASE3"],
        "country": ["IT", "FR", "US"],
        "age": ["8", "54", "70"],
        "sex": ["MALE", "FEMALE"],
        "near": ["Milan", "Strasbourg", "Paris"],
        "radius": ["25", "100"],
    }
    for name in draw(st.lists(st.sampled_from(sorted(filters)), max_size=3, unique=True)):
        pairs.append((name, draw(st.sampled_from(filters[name]))))
    pairs.append(("lang", draw(st.sampled_from(["en", "fr", "it"]))))
    return pairs


@st.composite
def new_trials(draw) -> list[dict]:
    """1 to 3 records made of parts of demo records, with new NCT ids."""
    made = []
    for n in range(draw(st.integers(1, 3))):
        base, titled, conditioned, treated = (draw(st.sampled_from(RECORDS)) for _ in range(4))
        record = json.loads(base.read_text())
        protocol = record["protocolSection"]
        other = json.loads(titled.read_text())["protocolSection"]
        protocol["identificationModule"] = copy.deepcopy(other["identificationModule"])
        protocol["identificationModule"]["nctId"] = f"NCT0999{draw(st.integers(0, 999)):03d}{n}"
        for path, module in (
            (conditioned, "conditionsModule"),
            (treated, "armsInterventionsModule"),
        ):
            source = json.loads(path.read_text())["protocolSection"]
            if module in source:
                protocol[module] = copy.deepcopy(source[module])
        status = draw(st.sampled_from(["RECRUITING", "NOT_YET_RECRUITING", "COMPLETED"]))
        protocol.setdefault("statusModule", {})["overallStatus"] = status
        made.append(record)
    return made


def announced_trials() -> set[int]:
    """The trials that the versions announce to saved searches (new or just opened, open)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT v.trial_id FROM trials_trialversion v
                  JOIN trials_trial t ON t.id = v.trial_id
                 WHERE t.overall_status IN ('RECRUITING', 'NOT_YET_RECRUITING')
                   AND {alerts.NEW_OR_OPENED_SQL}"""  # noqa: S608 (constant SQL)
        )
        return {row[0] for row in cursor.fetchall()}


@hypothesis_settings(FUZZ, max_examples=max(10, EXAMPLES // 4))
@given(pairs=searches(), records=new_trials())
def test_a_saved_search_finds_exactly_what_its_page_finds(pairs, records):
    TRIED["saved search = page"] += 1
    with transaction.atomic():
        stats = Importer().run([("property", record) for record in records])
        assert stats.failed == 0, stats.summary()
        index_changed_trials(stats.changed_ids)  # what after_import does for the page
        bump_search_generation()  # the page must see the new trials, not a cached answer

        lang = dict(pairs)["lang"]
        params, _errors = parse_params(QueryDict(urlencode(pairs)), lang=lang)
        params, _ = resolve_place(params)
        subscription, _ = alerts.subscription_subscribe_confirmed(
            email="prop@example.org", language=lang, params=params
        )
        Subscription.objects.filter(id=subscription.id).update(matched_from_version=0)
        MatchCursor.objects.update_or_create(name="alerts", defaults={"last_version_id": 0})
        AlertMatch.objects.all().delete()
        alerts.match_new_versions()
        got = set(
            AlertMatch.objects.filter(subscription=subscription).values_list("trial_id", flat=True)
        )

        page = search_trials(params, page_size=10_000, with_facets=False)
        expected = {hit.trial.id for hit in page.hits} & announced_trials()
        assert got == expected, (pairs, sorted(got ^ expected)[:10])
        TRIED["saved search = page, with trials announced"] += bool(expected)
        transaction.set_rollback(True)
    engine.update(stats.changed_ids)  # rolled back: they leave the index
    bump_search_generation()
