"""The search index (trials.engine): the same totals and facet counts as plain SQL on the same
search, followed by the database, and a broken index is a clear 503, never a 500 or wrong
results."""

import logging
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from trials import engine
from trials.models import Trial
from trials.search import (
    SearchParams,
    _count_and_facet_counts,
    _ranked_ids,
    compile_query,
    engine_filters,
    filter_parts,
    resolve_place,
    search_trials,
)

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]

WORDS = [
    "cancer", "breast cancer", "head and neck cancer", "asthma", "lung", "diabetes",
    "pembrolizumab", "\"radiation therapy\"", "cancer -metastatic", "heart failure",
    "leukemia or lymphoma", "pain", "children", "surgery", "NCT06129864", "vaccine",
    "quality of life", "depression", "cancro al seno", "cancer du poumon", "",
]  # fmt: skip
PLACES = ["", "", "Paris", "Boston", "Milan", "Chicago", "Strasbourg", "48.58,7.75"]


def random_search(rng: random.Random) -> SearchParams:
    statuses = rng.choice(
        [(), ("RECRUITING", "NOT_YET_RECRUITING"), ("COMPLETED",), ("RECRUITING", "TERMINATED")]
    )
    params = SearchParams(
        q=rng.choice(WORDS),
        statuses=statuses,
        phases=tuple(rng.sample(["PHASE1", "PHASE2", "PHASE3", "NA"], rng.choice([0, 0, 1, 2]))),
        study_types=rng.choice([(), (), ("INTERVENTIONAL",), ("OBSERVATIONAL",)]),
        sex=rng.choice(["", "", "FEMALE", "MALE"]),
        healthy_volunteers=rng.random() < 0.15,
        countries=rng.choice([(), (), ("US",), ("FR", "IT"), ("CN",)]),
        age=rng.choice([None, None, 8, 45, 70]),
        near=rng.choice(PLACES),
        radius_km=rng.choice([10, 25, 100, 250, None]),
        lang=rng.choice(["en", "en", "fr", "it"]),
    )
    return resolve_place(params)[0]


def sql_counts(params: SearchParams) -> dict:
    """The pre-index engine: one SQL statement per facet over trials_trial."""
    from trials.query import understand

    compiled = compile_query(understand(params.q, params.lang)) if params.q else None
    refs, args = filter_parts(params, compiled)
    return _count_and_facet_counts(refs, args, True)


def test_totals_and_facet_counts_are_those_of_plain_sql_on_random_searches():
    rng = random.Random(20261203)
    compared = 0
    for _ in range(60):
        params = random_search(rng)
        expected = sql_counts(params)
        found = engine.Search(
            compile_query(params.q, params.lang) if params.q else None,
            __import__("trials.search").search.engine_filters(params),
        ).count_and_facets(True)
        assert found["count"] == expected["count"], params
        for facet, values in expected["facets"].items():
            # The same counts for every value SQL shows (ties at the cut may pick others).
            got = dict(found["facets"][facet])
            for value, count in values:
                if value in got or len(values) < 15:
                    assert got.get(value) == count, (params, facet, value)
        compared += expected["count"] > 0
    assert compared >= 20  # most random searches found something to compare


@pytest.mark.parametrize(
    ("loc_buckets", "few_trials"),
    [(engine.LOC_BUCKETS, 0), (engine.LOC_BUCKETS, engine.FEW_TRIALS), (1, 0)],
    ids=["one-distance-at-a-time", "runs-of-few-trials", "too-many-to-aggregate"],
)
def test_nearest_first_is_the_order_plain_sql_gives(loc_buckets, few_trials, monkeypatch):
    # The three ways the index answers: a search per distance (a city's many trials), runs
    # of coordinates with few trials measured together, the stored sites of every trial.
    monkeypatch.setattr(engine, "LOC_BUCKETS", loc_buckets)
    monkeypatch.setattr(engine, "FEW_TRIALS", few_trials)
    rng = random.Random(1503)
    compared = 0
    for _ in range(40):
        params = random_search(rng)
        if not params.point:
            continue
        params = params.without(sort="distance")
        compiled = compile_query(params.q, params.lang) if params.q else None
        refs, args = filter_parts(params, compiled)
        for offset, limit in ((0, 20), (20, 20), (0, 100)):
            expected = [
                i for i, _ in _ranked_ids(refs, args, "distance", params, compiled, limit, offset)
            ]
            search = engine.Search(compiled, engine_filters(params))
            found = [i for i, _ in search.ranked("distance", limit, offset, 0.0)]
            assert found == expected, (params, offset)
        compared += len(expected) > 0
    assert compared >= 5


def test_the_page_total_is_the_index_total():
    params = SearchParams(q="cancer", statuses=())
    assert search_trials(params).count == sql_counts(params)["count"] > 50


def test_a_trial_changed_through_the_orm_is_found_by_its_new_words_at_once():
    trial = Trial.objects.get(nct_id="NCT05738187")
    assert search_trials(SearchParams(q="quorblimax", statuses=())).count == 0
    trial.brief_title = "Quorblimax for recurrent head and neck cancer"
    trial.save()
    hits = search_trials(SearchParams(q="quorblimax", statuses=())).hits
    assert [hit.trial.nct_id for hit in hits] == ["NCT05738187"]


def test_title_matches_rank_above_eligibility_mentions():
    hits = search_trials(SearchParams(q="asthma", statuses=()), page_size=50).hits
    assert (
        hits
        and "asthma" in (hits[0].trial.brief_title + " ".join(hits[0].trial.conditions)).lower()
    )


@pytest.fixture
def own_index(settings, tmp_path):
    """A search index of this test's own, built from the demo trials."""
    settings.SEARCH_INDEX_DIR = str(tmp_path / "index")
    engine.READER.forget()
    engine.rebuild()
    yield Path(settings.SEARCH_INDEX_DIR)
    engine.READER.forget()


def _segment_files(root: Path) -> list[Path]:
    current = root / os.readlink(root / "current")
    return [p for p in current.iterdir() if p.suffix in (".idx", ".term", ".store", ".fast")]


@pytest.mark.parametrize("damage", ["corrupt", "missing"])
def test_a_broken_index_is_a_clear_503_a_log_line_and_a_red_healthz(
    own_index, client, caplog, damage
):
    from django.core.cache import cache

    cache.clear()
    assert client.get("/trials/?q=asthma&status=any").status_code == 200
    if damage == "corrupt":
        for path in _segment_files(own_index):
            path.write_bytes(b"\0" * 64)
        meta = own_index / os.readlink(own_index / "current") / "meta.json"
        meta.write_text("{not json")
    else:
        (own_index / "current").unlink()
    engine.READER.forget()
    cache.clear()
    with caplog.at_level(logging.ERROR, logger="trials.middleware"):
        response = client.get("/trials/?q=asthma&status=any&page=1")
    assert response.status_code == 503
    assert "Search is briefly unavailable" in response.content.decode()
    assert any("search index unavailable" in r.getMessage() for r in caplog.records)
    assert "asthma" not in " ".join(r.getMessage() for r in caplog.records)  # no health data
    api = client.get("/api/v1/trials?q=asthma")
    assert api.status_code == 503 and "error" in api.json()
    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.json()["search_index"].startswith(damage)


def test_an_index_of_an_older_format_is_never_read_and_the_next_update_rebuilds_it(
    own_index, client
):
    import json

    from django.core.cache import cache

    meta_path = own_index / os.readlink(own_index / "current") / "trialfinder.json"
    meta = json.loads(meta_path.read_text())
    meta.pop("format")  # as the first format wrote it
    meta_path.write_text(json.dumps(meta))
    engine.READER.forget()
    cache.clear()
    assert client.get("/trials/?q=asthma&status=any").status_code == 503
    assert "older format" in client.get("/healthz").json()["search_index"]
    engine.update([Trial.objects.values_list("id", flat=True).first()])
    assert engine.read_meta()["format"] == engine.INDEX_FORMAT
    assert engine.READER.searcher().num_docs == Trial.objects.count()
    cache.clear()
    assert client.get("/trials/?q=asthma&status=any").status_code == 200


def test_healthz_reports_an_index_behind_the_database(own_index, client):
    import datetime

    from django.utils import timezone

    # Written behind the index's back (a bulk UPDATE fires no signal), an hour in the future.
    Trial.objects.filter(nct_id="NCT05738187").update(
        last_changed_at=timezone.now() + datetime.timedelta(hours=1)
    )
    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.json()["search_index"].startswith("behind")
    engine.catch_up()
    assert client.get("/healthz").json()["search_index"].startswith("ok")


READER_SCRIPT = """
import os, sys, time, django
django.setup()
import tantivy
from trials import engine
deadline = time.monotonic() + 60
seen = []
while time.monotonic() < deadline:
    searcher = engine.READER.searcher()
    query = tantivy.Query.term_query(engine.SCHEMA, "wa", sys.argv[1])
    count = searcher.search(query, 1).count
    if not seen or seen[-1] != count:
        seen.append(count)
        print(count, flush=True)
    if len(seen) >= 3:
        break
    time.sleep(0.05)
"""


def test_another_process_sees_each_new_generation_without_a_restart(own_index):
    """One process writes (an update, then a full rebuild), another reads and reloads."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.test_settings",
        "SEARCH_INDEX_DIR": str(own_index),
        "PYTHONPATH": str(ROOT),
    }
    reader = subprocess.Popen(
        [sys.executable, "-c", READER_SCRIPT, "quorblimax"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout.readline().strip() == "0"
        trial = Trial.objects.get(nct_id="NCT05738187")
        trial.brief_title = "Quorblimax for recurrent head and neck cancer"
        trial.save()  # reindexed at once (tests) / after commit (production)
        assert reader.stdout.readline().strip() == "1"
        other = Trial.objects.get(nct_id="NCT06129864")
        Trial.objects.filter(pk=other.pk).update(official_title="Quorblimax too")
        before = os.readlink(own_index / "current")
        time.sleep(0.01)
        engine.rebuild()  # a new generation, swapped in
        assert os.readlink(own_index / "current") != before
        assert reader.stdout.readline().strip() == "2"
    finally:
        reader.kill()
        reader.wait(10)


def test_documents_hold_each_weights_lexemes_at_their_stored_positions_and_sites_cells():
    """PostgreSQL writes each document's texts (the rebuild's hot loop); they must be what
    the stored search_vector says, position for position, and the cells what geo_cells says."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(engine._document_sql())
        rows = cursor.fetchall()
        cursor.execute("SELECT id, search_vector::text FROM trials_trial")
        vectors = dict(cursor.fetchall())
    assert len(rows) == Trial.objects.count()
    for row in rows:
        texts = {k: v for k, v in zip(("wa", "wb", "wc", "wd"), row[2:6], strict=True) if v}
        assert texts == engine.weighted_texts(vectors[row[0]]), row[1]
        cells = {
            c for site in row[18] or () for c in engine.geo_cells(*map(float, site.split(",")))
        }
        assert cells == set(row[19] or ()), row[1]


def test_the_nearest_site_is_the_one_the_haversine_finds_nearest():
    rng = random.Random(15)
    for _ in range(500):
        lat0, lon0 = rng.uniform(-89, 89), rng.uniform(-180, 180)
        sites = [(rng.uniform(-89, 89), rng.uniform(-180, 180)) for _ in range(rng.randint(1, 9))]
        expected = min(engine.distance_km(lat0, lon0, lat, lon) for lat, lon in sites)
        assert engine.nearest_km(lat0, lon0, sites) == pytest.approx(expected, abs=1e-6)
    assert engine.nearest_km(48.85, 2.35, []) is None
