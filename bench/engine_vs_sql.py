"""The search index against the SQL it replaced, interleaved on the same loaded database.

    .venv/bin/python bench/engine_vs_sql.py --database tf_bench_60000 --rounds 2

For each search of the bench's mix, one client, nothing cached: the former engine (the total
and facets in SQL, then the first 1,000 ranked ids: trials.search._count_and_facet_counts and
_ranked_ids, kept as the reference the exactness test compares with) and the index
(trials.engine.Search) one after the other, so that both meet the same machine load. Also
checks that both give the same total.
"""

import argparse
import datetime
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import percentile, say, use_database


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    use_database(args.database)
    import django

    django.setup()
    from django.utils import timezone

    from bench.search_bench import QUERIES, engine_search
    from trials import engine
    from trials.models import FRESH_DAYS
    from trials.search import (
        CACHED_RANKS,
        _count_and_facet_counts,
        _ranked_ids,
        _refs_and_args,
        engine_filters,
    )

    fresh_since = (timezone.now() - datetime.timedelta(days=FRESH_DAYS)).timestamp()
    old, new = [], []
    for _ in range(args.rounds):
        for label, query in QUERIES:
            params, _page, compiled, sort = engine_search(query)
            refs, args_ = _refs_and_args(params, compiled)
            started = time.perf_counter()
            counts = _count_and_facet_counts(refs, args_, True)
            _ranked_ids(refs, args_, sort, params, compiled, CACHED_RANKS, 0)
            old.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            search = engine.Search(compiled, engine_filters(params))
            found = search.count_and_facets(True)
            search.ranked(sort, CACHED_RANKS if sort != "distance" else 20, 0, fresh_since)
            new.append((time.perf_counter() - started) * 1000)
            assert found["count"] == counts["count"], (label, found["count"], counts["count"])
            say(f"{label:24} SQL {old[-1]:8.0f} ms   index {new[-1]:7.1f} ms")
    for name, values in (("SQL", old), ("index", new)):
        print(
            f"{name:6} p50 {percentile(values, 50):8.1f} ms  p95 {percentile(values, 95):8.1f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
