"""The search index alone at ten times the data: what grows with the registry, measured cold.

    .venv/bin/python bench/index_scale.py --database tf_bench_60000 --times 10

Reads every document of a loaded bench database (60,000 trials), writes each `--times` times
under new ids into a fresh index (600,000 documents: the issue's "60k rows x10"), times that
build, then runs the bench's search mix (bench/search_bench.QUERIES) against the index
directly, one client, nothing cached: the total and every facet count, and the first 1,000
ranked ids, exactly what a cold search page asks of the index. The same mix on the 1x index
gives the growth. Hydrating the page's 20 trials from PostgreSQL does not grow with the data
and is not in these figures (the full page at 60,000 is in `make bench-small`).
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import RESULTS, ROOT, percentile, say, use_database


def fetch_rows() -> tuple[list, float]:
    """Every trial's document row, read once (PostgreSQL computes the texts and cells)."""
    from django.db import connection, transaction

    from trials import engine

    started = time.monotonic()
    rows = []
    with transaction.atomic(), connection.chunked_cursor() as cursor:
        cursor.execute(engine._document_sql())
        while batch := cursor.fetchmany(2000):
            rows.extend(batch)
    seconds = time.monotonic() - started
    say(f"{len(rows):,} document rows read in {seconds:.0f} s")
    return rows, seconds


def build(rows: list, times: int, path: Path) -> tuple[float, float]:
    import tantivy

    from trials import engine

    path.mkdir(parents=True)
    index = tantivy.Index(engine.SCHEMA, path=str(path))
    index.register_tokenizer("pg", engine.ANALYZER)
    writer = index.writer(engine.WRITER_HEAP, 2)
    started = time.monotonic()
    count = 0
    for row in rows:
        for k in range(times):
            copy = (row[0] + k * 10_000_000, f"NCT{k}{row[1][4:]}", *row[2:])
            writer.add_document(engine._document(copy))
        count += times
    writer.commit()
    writer.wait_merging_threads()
    seconds = time.monotonic() - started
    meta = {"generation": path.name, "documents": count, "db_watermark": None}
    (path / "trialfinder.json").write_text(json.dumps(meta))
    size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6
    say(f"index of {count:,} documents written in {seconds:.0f} s, {size:.0f} MB")
    return seconds, size


def run_mix(rounds: int) -> dict:
    import datetime

    from django.utils import timezone

    from bench.search_bench import QUERIES, engine_search
    from trials import engine
    from trials.models import FRESH_DAYS
    from trials.search import engine_filters

    fresh_since = (timezone.now() - datetime.timedelta(days=FRESH_DAYS)).timestamp()
    prepared = []
    for label, query in QUERIES:
        params, page, compiled, sort = engine_search(query)
        prepared.append((label, compiled, engine_filters(params), sort, page))
    times: dict[str, list[float]] = {label: [] for label, *_ in prepared}
    for _ in range(rounds):
        for label, compiled, filters, sort, _page in prepared:
            started = time.perf_counter()
            search = engine.Search(compiled, filters)
            search.count_and_facets(True)
            search.ranked(sort, 1000, 0, fresh_since)
            times[label].append((time.perf_counter() - started) * 1000)
    every = [x for values in times.values() for x in values]
    return {
        "p50_ms": percentile(every, 50),
        "p95_ms": percentile(every, 95),
        "per_query_p50_ms": {k: percentile(v, 50) for k, v in times.items()},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--times", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    use_database(args.database)
    root = ROOT / ".local" / "search-index" / f"scale-{args.database}-x{args.times}"
    os.environ["SEARCH_INDEX_DIR"] = str(root)
    import shutil

    import django

    shutil.rmtree(root, ignore_errors=True)
    django.setup()
    from django.conf import settings

    from trials import engine

    results = {}
    rows, fetch_s = fetch_rows()
    for times in (1, args.times):
        generation = root / f"gen-x{times}"
        build_s, size = build(rows, times, generation)
        current = root / "current"
        current.unlink(missing_ok=True)
        os.symlink(generation.name, current)
        engine.READER.forget()
        assert Path(settings.SEARCH_INDEX_DIR) == root
        mix = run_mix(args.rounds)
        say(f"x{times}: cold mix p50 {mix['p50_ms']:.1f} ms, p95 {mix['p95_ms']:.1f} ms")
        results[f"x{times}"] = {"build_s": build_s, "fetch_s": fetch_s, "mb": size, **mix}
    small, large = results["x1"], results[f"x{args.times}"]
    summary = {
        "index_documents_large": engine.READER.searcher().num_docs,
        "index_cold_p50_ms_small": small["p50_ms"],
        "index_cold_p95_ms_small": small["p95_ms"],
        "index_cold_p50_ms_large": large["p50_ms"],
        "index_cold_p95_ms_large": large["p95_ms"],
        "index_cold_p95_growth": large["p95_ms"] / small["p95_ms"],
        "document_rows_read_s_small": fetch_s,
        "search_index_write_s_small": small["build_s"],
        "search_index_write_s_large": large["build_s"],
        "search_index_mb_large": large["mb"],
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"index-scale-{args.database}-x{args.times}.json"
    out.write_text(json.dumps({**summary, "detail": results}, indent=1))
    for key, value in summary.items():
        print(f"{key:36} {value:12.1f}")
    print("per query p50 ms (x1 → xN):")
    for label in small["per_query_p50_ms"]:
        print(
            f"  {label:24} {small['per_query_p50_ms'][label]:8.1f} "
            f"{large['per_query_p50_ms'][label]:8.1f}"
        )
    shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
