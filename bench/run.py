"""Run the benchmark suite on N synthetic trials and print every figure against its target.

    .venv/bin/python scripts/dev.py with .venv/bin/python bench/run.py --n 60000
    ... --quick                       fewer repetitions (a smoke run)
    ... --sections import,search      only some sections (default: all)
    ... --reuse-db                    keep an already loaded tf_bench_<N> (skips generate + import)
    ... --keep-db                     leave tf_bench_<N> behind when done (default: dropped)

Flow: generate the zip (reused when present) → a fresh database tf_bench_<N> on the server of
DATABASE_URL → migrate → import → search → pages → alerts → the 1,000-record nightly update
(last, so that it matches against the alerts section's 100,000 subscriptions). Results go to
bench/results/<UTC timestamp>-<N>.json (numbers only) and a table figure | value | target.
"""

import argparse
import datetime
import importlib
import json
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg

from bench.common import PYTHON, RESULTS, ROOT, BenchContext, admin_connect, database_url, say
from bench.generate import generate, zip_path_for

SECTIONS = ("import", "search", "pages", "alerts")

# Issue 7's targets on a 2-core machine: key → (comparison, bound, unit).
TARGETS = {
    "search_p50_ms": ("<=", 40, "ms"),
    "search_p95_ms": ("<=", 150, "ms"),
    "search_p99_ms": (None, None, "ms"),
    "search_page_over_sql_p95": ("<=", 1.3, "x"),
    "search_p95_growth_vs_60k": ("<=", 3.0, "x"),
    "trial_page_rps_ratio": (">=", 0.60, "x"),
    "search_page_rps_ratio": (">=", 0.30, "x"),
    "import_trials_per_s": (">=", 330, "/s"),
    "import_over_copy_ratio": (">=", 0.25, "x"),
    "import_peak_rss_mb": ("<=", 400, "MB"),
    "update_1000_s": ("<=", 30, "s"),
    # Issue 15: every search cold (the first since the last import), the search index.
    "search_cold_1c_p50_ms": ("<=", 50, "ms"),
    "search_cold_1c_p95_ms": ("<=", 200, "ms"),
    "search_cold_10c_per_s": (">=", 20, "/s"),
    "search_cold_10c_p95_ms": ("<=", 800, "ms"),
    "search_cold_p95_growth_vs_60k": ("<=", 4.0, "x"),
    "search_cold_realistic_1c_p50_ms": (None, None, "ms"),
    "search_cold_realistic_1c_p95_ms": (None, None, "ms"),
    "search_index_build_s": ("<=", 300, "s"),
    "search_index_mb": (None, None, "MB"),
    "search_web_rss_mb": (None, None, "MB"),
    "alerts_100k_s": ("<=", 60, "s"),
    "alerts_speedup_vs_naive": (">=", 20, "x"),
    "alerts_duplicates": ("<=", 0, ""),
}
# The 600k-only figures (growth) need a 60k run to compare with.
SMALL_N = 60_000
LARGE_N = 600_000


def trial_count(url: str) -> int | None:
    try:
        with psycopg.connect(url) as conn:
            return conn.execute("SELECT count(*) FROM trials_trial").fetchone()[0]
    except psycopg.Error:
        return None


def recreate_database(base_url: str, name: str) -> None:
    with admin_connect(base_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(base_url: str, name: str) -> None:
    with admin_connect(base_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def machine_info(url: str) -> dict:
    with psycopg.connect(url) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
    mem_kb = 0
    try:
        with open("/proc/meminfo") as fh:
            mem_kb = int(next(line for line in fh if line.startswith("MemTotal")).split()[1])
    except (OSError, StopIteration):
        pass
    return {
        "machine_cores": os.cpu_count() or 0,
        "machine_memory_gb": round(mem_kb / 1e6, 1),
        "postgresql_version": float(version.split()[0].split(".")[0]),
        "python_version": float(".".join(platform.python_version_tuple()[:2])),
    }, f"PostgreSQL {version}, Python {platform.python_version()}, {platform.machine()}"


def migrate(ctx: BenchContext) -> None:
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=ROOT,
        env=ctx.env(),
        check=True,
    )


def run_section(name: str, module: str, function: str, ctx: BenchContext) -> dict:
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        say(f"section {name}: not available")
        return {}
    started = time.monotonic()
    say(f"section {name}")
    result = getattr(mod, function)(ctx)
    say(f"section {name} done in {time.monotonic() - started:.0f} s")
    return result


def growth_vs_small(results: dict, key: str = "search_p95_ms") -> float | None:
    """This run's `key` over that of the newest 60k results file."""
    if key not in results:
        return None
    # The newest 60k run that measured search (an import-only run has no search figures).
    for path in sorted(RESULTS.glob(f"*-{SMALL_N}.json"), reverse=True):
        small = json.loads(path.read_text()).get(key)
        if small:
            return results[key] / small
    return None


IMPORT_KEYS = (
    "import_trials_per_s",
    "import_over_copy_ratio",
    "import_peak_rss_mb",
    "import_s",
    "copy_s",
    "copy_docs_per_s",
)


def import_figures_of_loaded_db(n: int) -> tuple[dict, str] | None:
    """A reused database was loaded by an earlier run: its import figures, and which run."""
    for path in sorted(RESULTS.glob(f"*-{n}.json"), reverse=True):
        earlier = json.loads(path.read_text())
        if "import_trials_per_s" in earlier:
            return {k: earlier[k] for k in IMPORT_KEYS if k in earlier}, path.name
    return None


def verdict(key: str, value) -> tuple[str, str]:
    op, bound, unit = TARGETS[key]
    if op is None:
        return "", ""
    target = f"{op} {bound:g}{unit}"
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return target, "n/a"
    met = value <= bound if op == "<=" else value >= bound
    return target, "met" if met else "MISSED"


def print_table(results: dict) -> None:
    rows = [("figure", "value", "target", "")]
    for key in TARGETS:
        value = results.get(key)
        target, status = verdict(key, value)
        shown = "-" if value is None else (f"{value:,.3g}" if abs(value) < 10 else f"{value:,.0f}")
        rows.append((key, shown, target, status))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for i, row in enumerate(rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, required=True, help="number of synthetic trials")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--sections", default=",".join(SECTIONS))
    parser.add_argument("--keep-db", action="store_true", help="leave tf_bench_<N> in place")
    parser.add_argument(
        "--reuse-db", action="store_true", help="reuse a loaded tf_bench_<N> (skip the import)"
    )
    args = parser.parse_args(argv)
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    base_url = os.environ.get("DATABASE_URL")
    redis_url = os.environ.get("REDIS_URL")
    if not base_url or not redis_url:
        parser.error("DATABASE_URL and REDIS_URL must be set (run through scripts/dev.py with)")

    started = time.monotonic()
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    # BENCH_DATABASE: another name, for several people benchmarking on one server.
    name = os.environ.get("BENCH_DATABASE") or f"tf_bench_{args.n}"
    url = database_url(base_url, name)
    zip_path = generate(args.n, zip_path_for(args.n))
    ctx = BenchContext(
        n=args.n, database_url=url, redis_url=redis_url, zip_path=zip_path, quick=args.quick
    )
    results: dict = {"n_trials": args.n}

    reuse = args.reuse_db and trial_count(url) == args.n
    if args.reuse_db and not reuse:
        say(f"{name} does not hold {args.n:,} trials: loading it afresh")
    if not reuse:
        say(f"creating database {name}")
        recreate_database(base_url, name)
    migrate(ctx)
    info, description = machine_info(url)
    results.update(info)

    from bench import import_bench

    if "import" in sections and not reuse:
        results.update(import_bench.run(ctx))
    elif "import" in sections:
        # The database was loaded (and measured) by an earlier run: report that run's figures
        # and say so, so that one results file holds the whole picture.
        earlier = import_figures_of_loaded_db(args.n)
        if earlier:
            results.update(earlier[0])
            ctx.notes["import"] = f"import figures measured when loading it: {earlier[1]}"
    elif not reuse:
        say("import section skipped: loading the zip without measuring")
        import_bench.load(ctx)
    for section in ("search", "pages", "alerts"):
        if section in sections:
            results.update(run_section(section, f"bench.{section}_bench", "run", ctx))
    if "import" in sections:
        say("section nightly update")
        results.update(import_bench.run_update(ctx))

    if args.n >= LARGE_N:
        growth = growth_vs_small(results)
        if growth is not None:
            results["search_p95_growth_vs_60k"] = growth
        growth = growth_vs_small(results, "search_cold_1c_p95_ms")
        if growth is not None:
            results["search_cold_p95_growth_vs_60k"] = growth
    results["bench_wall_s"] = time.monotonic() - started
    numbers = {k: v for k, v in results.items() if isinstance(v, int | float)}
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{stamp}-{args.n}.json"
    out.write_text(json.dumps(numbers, indent=2, sort_keys=True) + "\n")

    print()
    print(f"TrialFinder benchmark, {args.n:,} trials, {info['machine_cores']} cores, {description}")
    print()
    print_table(numbers)
    for section, note in ctx.notes.items():
        print(f"\n{section}: {note}")
    print(f"\nwall time {numbers['bench_wall_s'] / 60:.1f} min; results in {out.relative_to(ROOT)}")
    if not args.keep_db:
        drop_database(base_url, name)
        say(f"dropped {name} (--keep-db keeps it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
