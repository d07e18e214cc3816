"""Search: the real search page by HTTP under gunicorn, 10 clients, and the same searches as raw
SQL through psycopg, 10 connections.

What is measured, honestly:
- The mix (QUERIES) is fixed: broad, narrow and multi-word condition names, with and without
  filters, near a European and a US city, page 1 and page 20, sorted by distance or update.
- The page keeps its own caches, as in production: the total, facet counts and the first
  1,000 ranked ids of each search are cached until the next import (trials.search), and a full
  page's rendered results region too (trials.views.search_page_key, 5 minutes at most). After
  one untimed warm-up pass, the headline figures (search_p50/p95/p99_ms) are that warm steady
  state: with a fixed mix of 24 searches, every timed request is a cache hit
  (search_cache_hit_share, of the search's own caches). The cold figures below are the
  honest cost of a search nobody asked for in the last minutes.
- The raw SQL is every statement a *cold* page runs (place lookup, total and facets, ranking,
  hydration, snippets, nearest sites), captured in-process with the cache emptied, replayed
  with psycopg. search_page_over_sql_p95 = warm page p95 / cold SQL p95 (the brief's measure:
  what the portal adds, caches included, over what PostgreSQL must do for the search).
- Extras make the other readings possible: the page measured cold (the search cache made
  unreachable before every request: search_cold_p50/p95_ms) and its ratio to the same SQL
  (search_cold_page_over_sql_p95), per-query p50/p95 for page and SQL.
"""

import http.client
import os
import subprocess
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from bench.common import (
    PYTHON,
    ROOT,
    BenchContext,
    free_port,
    percentile,
    print_figures,
    say,
    standalone_context,
    stop_group,
    summary_ms,
)

CLIENTS = 10

# (label, query string). Condition names the synthetic records take from real ones.
QUERIES = [
    ("broad", "q=cancer"),
    ("broad-p20", "q=cancer&page=20"),
    ("broad-any-status", "q=cancer&status=any"),
    ("broad-any-status-p20", "q=cancer&status=any&page=20"),
    ("broad-updated", "q=cancer&sort=updated"),
    ("narrow", "q=oropharyngeal"),
    ("narrow-any", "q=oropharyngeal&status=any"),
    ("multi", "q=head+and+neck+cancer"),
    ("multi-p20", "q=head+and+neck+cancer&status=any&page=20"),
    ("multi-phase", "q=breast+cancer&phase=PHASE2&phase=PHASE3"),
    ("diabetes-age", "q=diabetes&age=45&sex=FEMALE"),
    ("lymphoma-country", "q=lymphoma&country=FR&status=any"),
    ("leukemia-widened", "q=leukemia&status=RECRUITING&status=ACTIVE_NOT_RECRUITING"),
    ("paris", "q=cancer&near=Paris&radius=50"),
    ("paris-distance", "q=cancer&near=Paris&radius=100&sort=distance"),
    ("boston", "q=breast+cancer&near=Boston&radius=100"),
    ("boston-any", "near=Boston&radius=250&status=any"),
    ("chicago-p20", "q=cancer&near=Chicago&radius=250&status=any&page=20"),
    ("no-query", ""),
    ("no-query-p20", "page=20"),
    ("no-query-phase3", "phase=PHASE3&status=any"),
    ("asthma-child", "q=asthma&age=10"),
    ("melanoma-healthy", "q=melanoma+OR+carcinoma&status=any&sort=updated"),
    ("misspelt", "q=carcinomma"),
]

# The same kinds of searches with broad terms no more common than among real searches: most
# patients name a condition, a treatment or a trial, a few type one broad word.
REALISTIC_QUERIES = [
    "q=oropharyngeal",
    "q=head+and+neck+cancer",
    "q=breast+cancer&phase=PHASE2&phase=PHASE3",
    "q=diabetes&age=45&sex=FEMALE",
    "q=lymphoma&country=FR&status=any",
    "q=asthma&age=10",
    "q=melanoma",
    "q=multiple+sclerosis",
    "q=pembrolizumab",
    "q=leukemia&status=RECRUITING&status=ACTIVE_NOT_RECRUITING",
    "q=breast+cancer&near=Boston&radius=100",
    "q=lung+cancer&near=Paris&radius=50",
    "q=heart+failure",
    "q=cancer",
    "q=carcinomma",
    "q=depression&near=Chicago&radius=100",
    "q=crohn",
    "q=prostate+cancer&status=any&page=2",
    "q=psoriasis",
    "q=obesity&age=30",
]


# --- gunicorn ------------------------------------------------------------------------------------


def bench_env(ctx: BenchContext, **extra) -> dict:
    return ctx.env(
        SEARCH_RATE_PER_MINUTE=str(10**9),  # 10 clients from one address are not a flood here
        LOG_LEVEL="WARNING",
        **extra,
    )


def collectstatic(ctx: BenchContext) -> None:
    """The manifest storage needs collected files (DEBUG is off under gunicorn)."""
    subprocess.run(
        [PYTHON, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env=bench_env(ctx),
        check=True,
    )


@contextmanager
def gunicorn(ctx: BenchContext, **extra_env):
    """`gunicorn config.wsgi` with 2 x cores + 1 sync workers on a free port; yields the port."""
    port = free_port()
    workers = 2 * (os.cpu_count() or 1) + 1
    proc = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "config.wsgi",
            f"--bind=127.0.0.1:{port}",
            f"--workers={workers}",
            "--worker-class=sync",
            "--keep-alive=30",
            "--timeout=300",  # a cold broad search under load must not get its worker killed
            "--log-level=warning",
        ],
        cwd=ROOT,
        env=bench_env(ctx, **extra_env),
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240  # a busy machine starts 5 workers slowly
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {proc.returncode}")
            try:
                status, _ = get_once(port, "/healthz")
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not answer /healthz within 240 s")
            time.sleep(0.3)
        yield port
    finally:
        stop_group(proc, timeout=20)


def get_once(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def http_load(
    port: int,
    paths: list[str],
    *,
    requests: int,
    clients: int = CLIENTS,
    before_each=None,
    seconds: float | None = None,
) -> dict:
    """`clients` threads with keep-alive connections, taking paths in turn from the list.

    Stops after `requests` requests (or `seconds`, when given). Returns per-path latencies
    (seconds), the wall time, and the count of non-200 answers.
    """
    lock = threading.Lock()
    state = {"next": 0, "errors": 0}
    latencies: dict[str, list[float]] = {p: [] for p in paths}
    started = time.perf_counter()
    stop_at = started + seconds if seconds else None

    def take() -> str | None:
        with lock:
            i = state["next"]
            if stop_at is None and i >= requests:
                return None
            if stop_at is not None and time.perf_counter() >= stop_at:
                return None
            state["next"] = i + 1
            return paths[i % len(paths)]

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while (path := take()) is not None:
            if before_each:
                before_each()
            t0 = time.perf_counter()
            try:
                conn.request("GET", path, headers={"Accept-Language": "en"})
                response = conn.getresponse()
                response.read()
                ok = response.status == 200
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            elapsed = time.perf_counter() - t0
            with lock:
                latencies[path].append(elapsed)
                if not ok:
                    state["errors"] += 1
        conn.close()

    _run_threads(client, clients)
    wall = time.perf_counter() - started
    return {"latencies": latencies, "wall": wall, "errors": state["errors"], "count": state["next"]}


def _run_threads(target, count: int) -> None:
    threads = [threading.Thread(target=target) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


# --- raw SQL -------------------------------------------------------------------------------------


def capture_sql(query: str) -> list[tuple[str, object]]:
    """Every statement the search page runs for `query` with the search cache cold."""
    from django.db import connection

    from trials.search import bump_search_generation, search_trials

    statements: list[tuple[str, object]] = []

    def record(execute, sql, params, many, context):
        statements.append((sql, params))
        return execute(sql, params, many, context)

    bump_search_generation()
    with connection.execute_wrapper(record):
        params, page = parsed_search(query)
        search_trials(params, page=page)
    return statements


def parsed_search(query: str):
    """(search parameters with the place resolved, page) of a query string, as the page reads
    them."""
    from django.http import QueryDict

    from trials.search import parse_page, parse_params, resolve_place

    data = QueryDict(query)
    params, _errors = parse_params(data)
    params, _suggestion = resolve_place(params)
    return params, parse_page(data.get("page"))


def engine_search(query: str):
    """(parameters, page, compiled words, sort) of a query string, as the search hands them to
    the index: no words to rank by, the newest first."""
    from trials.query import understand
    from trials.search import compile_query

    params, page = parsed_search(query)
    compiled = compile_query(understand(params.q, params.lang)) if params.q else None
    sort = params.effective_sort
    if sort == "relevance" and not compiled:
        sort = "updated"
    return params, page, compiled, sort


def sql_load(database_url: str, workload: list[list[tuple[str, object]]], requests: int) -> dict:
    """Replay each search's statements (one search = one sample) on 10 psycopg connections."""
    import psycopg

    lock = threading.Lock()
    state = {"next": 0}
    latencies: dict[int, list[float]] = {i: [] for i in range(len(workload))}

    def take():
        with lock:
            i = state["next"]
            if i >= requests:
                return None
            state["next"] = i + 1
            return i % len(workload)

    def client():
        with psycopg.connect(database_url, autocommit=True) as conn:
            cursor = psycopg.ClientCursor(conn)  # Django's way: parameters bound client-side
            while (i := take()) is not None:
                t0 = time.perf_counter()
                # One transaction per search: the page's SET LOCAL plan settings (see
                # trials.search._matching_cursor) apply to the statements after them, as there.
                with conn.transaction():
                    for sql, params in workload[i]:
                        cursor.execute(sql, params)
                        if cursor.description is not None:
                            cursor.fetchall()
                elapsed = time.perf_counter() - t0
                with lock:
                    latencies[i].append(elapsed)

    started = time.perf_counter()
    _run_threads(client, CLIENTS)
    return {"latencies": latencies, "wall": time.perf_counter() - started}


# --- the section ---------------------------------------------------------------------------------


def setup_django(ctx: BenchContext) -> None:
    import django
    from django.conf import settings

    if not settings.configured:
        os.environ.update(bench_env(ctx))
        django.setup()


def run(ctx: BenchContext) -> dict:
    setup_django(ctx)
    from trials.search import bump_search_generation

    requests = 600 if ctx.quick else 3000
    # At 600,000 trials a cold broad search takes seconds: BENCH_SEARCH_COLD_ROUNDS=1 runs the
    # cold page and the raw SQL once per search of the mix instead of hundreds of times.
    # The default at registry scale: twice each (a few minutes instead of two hours).
    rounds = int(os.environ.get("BENCH_SEARCH_COLD_ROUNDS", "2" if ctx.n >= 300_000 else "0"))
    sql_requests = rounds * len(QUERIES) if rounds else requests
    paths = [f"/trials/?{q}" if q else "/trials/?" for _, q in QUERIES]
    labels = dict(zip(paths, (label for label, _ in QUERIES), strict=True))

    # The index first: gunicorn's /healthz is red without it.
    index = _index_figures()
    say("search: capturing the SQL of each search (cold cache)")
    workload = [capture_sql(q) for _, q in QUERIES]
    statements = sum(len(w) for w in workload)

    collectstatic(ctx)
    # The capture above left the search caches filled: the check below is quick.
    with gunicorn(ctx) as port:
        for path in paths:  # every path once: the pages must work before being timed
            status, body = get_once(port, path)
            if status != 200:
                raise RuntimeError(f"{path} answered {status}: {body[:300]!r}")
        say(f"search: warm page, {requests} requests, {CLIENTS} clients")
        http_load(port, paths, requests=len(paths) * 2)  # warm-up: caches, connections
        warm = http_load(port, paths, requests=requests)
        cold_requests = rounds * len(paths) if rounds else max(len(paths) * 4, requests // 5)
        say(f"search: cold page, {cold_requests} requests (cache generation bumped each time)")
        cold = http_load(port, paths, requests=cold_requests, before_each=bump_search_generation)
        # The headline since the search index (issue 15): every search cold, one client, then
        # 10, on the same mix; and a mix with broad terms as rare as in the registry.
        cold_rounds = int(os.environ.get("BENCH_SEARCH_COLD_1C_ROUNDS", "2" if ctx.quick else "5"))
        say(f"search: cold page, one client, {cold_rounds} rounds of the mix")
        cold_1c = http_load(
            port, paths, requests=cold_rounds * len(paths), clients=1,
            before_each=bump_search_generation,
        )  # fmt: skip
        cold_10c = http_load(
            port, paths, requests=max(cold_rounds, 2) * 2 * len(paths),
            before_each=bump_search_generation,
        )  # fmt: skip
        realistic = [f"/trials/?{q}" for q in REALISTIC_QUERIES]
        cold_real = http_load(
            port, realistic, requests=cold_rounds * len(realistic), clients=1,
            before_each=bump_search_generation,
        )  # fmt: skip
        web_rss_mb = _workers_rss_mb()
    hit_share = _warm_hit_share(ctx, workload)

    say(f"search: raw SQL, {sql_requests} searches, {CLIENTS} connections")
    sql = sql_load(ctx.database_url, workload, sql_requests)

    page_s, cold_s, sql_s = _summary(warm), _summary(cold), _summary(sql)

    per_query = {}
    for i, path in enumerate(paths):
        label = labels[path]
        per_query[f"search_q_{label}_page_p50_ms"] = _ms(warm["latencies"][path], 50)
        per_query[f"search_q_{label}_page_p95_ms"] = _ms(warm["latencies"][path], 95)
        per_query[f"search_q_{label}_cold_p95_ms"] = _ms(cold["latencies"][path], 95)
        per_query[f"search_q_{label}_sql_p95_ms"] = _ms(sql["latencies"][i], 95)
    slowest = sorted(
        ((v, k) for k, v in per_query.items() if k.endswith("_cold_p95_ms")), reverse=True
    )[:3]
    ctx.notes["search"] = (
        f"warm page p95 {page_s['p95']:.0f} ms, cold page p95 {cold_s['p95']:.0f} ms, "
        f"cold SQL p95 {sql_s['p95']:.0f} ms; slowest cold: "
        + ", ".join(f"{k[9:-12]} {v:.0f} ms" for v, k in slowest)
    )
    c1, c10, creal = _summary(cold_1c), _summary(cold_10c), _summary(cold_real)
    for path in paths:
        per_query[f"search_q_{labels[path]}_cold_1c_p50_ms"] = _ms(cold_1c["latencies"][path], 50)
    ctx.notes["search_cold"] = (
        f"cold, one client: p50 {c1['p50']:.0f} ms, p95 {c1['p95']:.0f} ms; 10 clients: "
        f"{cold_10c['count'] / cold_10c['wall']:.1f}/s, p95 {c10['p95']:.0f} ms; realistic mix "
        f"p50 {creal['p50']:.0f} / p95 {creal['p95']:.0f} ms; index built in "
        f"{index['search_index_build_s']:.1f} s, {index['search_index_mb']:.0f} MB; web worker "
        f"RSS {web_rss_mb:.0f} MB"
    )
    return {
        "search_cold_1c_p50_ms": c1["p50"],
        "search_cold_1c_p95_ms": c1["p95"],
        "search_cold_10c_per_s": cold_10c["count"] / cold_10c["wall"],
        "search_cold_10c_p95_ms": c10["p95"],
        "search_cold_realistic_1c_p50_ms": creal["p50"],
        "search_cold_realistic_1c_p95_ms": creal["p95"],
        "search_cold_errors": cold_1c["errors"] + cold_10c["errors"] + cold_real["errors"],
        "search_web_rss_mb": web_rss_mb,
        **index,
        "search_p50_ms": page_s["p50"],
        "search_p95_ms": page_s["p95"],
        "search_p99_ms": page_s["p99"],
        "search_page_over_sql_p95": page_s["p95"] / sql_s["p95"],
        "search_requests": warm["count"],
        "search_errors": warm["errors"] + cold["errors"],
        "search_page_rps": warm["count"] / warm["wall"],
        "search_cache_hit_share": hit_share,
        "search_cold_p50_ms": cold_s["p50"],
        "search_cold_p95_ms": cold_s["p95"],
        "search_cold_p99_ms": cold_s["p99"],
        "search_cold_page_over_sql_p95": cold_s["p95"] / sql_s["p95"],
        "search_sql_p50_ms": sql_s["p50"],
        "search_sql_p95_ms": sql_s["p95"],
        "search_sql_statements_per_search": statements / len(workload),
        **per_query,
    }


def _summary(load: dict) -> dict:
    """p50/p95/p99 (ms) of every request of an http_load or sql_load."""
    return summary_ms([x for latencies in load["latencies"].values() for x in latencies])


def _ms(seconds: list[float], p: float) -> float:
    return percentile([x * 1000 for x in seconds], p)


def _workers_rss_mb() -> float:
    """The largest resident set of a gunicorn worker serving searches (the index open)."""
    largest = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
            cmdline = (status.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if b"gunicorn" not in cmdline or b"config.wsgi" not in cmdline:
            continue
        for line in text.splitlines():
            if line.startswith("VmRSS:"):
                largest = max(largest, int(line.split()[1]))
    return largest / 1024


def _index_figures() -> dict:
    """The search index rebuilt from the database, timed; its size on disk."""
    from trials import engine

    meta = engine.read_meta()
    if (
        not meta.get("build_s")
        or os.environ.get("BENCH_INDEX_REBUILD")
        or (engine.status()["state"] != "ok")
    ):
        say("search: rebuilding the search index (timed)")
        meta = engine.rebuild()
    # Else the import just rebuilt it (a bulk load rebuilds rather than updates): its time.
    path = engine.index_root() / meta["generation"]
    size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return {"search_index_build_s": meta["build_s"], "search_index_mb": size / 1e6}


def _warm_hit_share(ctx: BenchContext, workload) -> float:
    """Share of the warm mix served from the search cache (total, facets and ranks)."""
    from django.db import connection

    from trials import engine
    from trials.search import search_trials

    hits = 0
    for _, query in QUERIES:
        params, page = parsed_search(query)
        search_trials(params, page=page)  # warm it
        statements: list[str] = []

        def record(execute, sql, params, many, context, statements=statements):
            statements.append(sql)
            return execute(sql, params, many, context)

        searched = []
        original = engine.Search.__init__

        def counting(self, *args, searched=searched, original=original, **kwargs):
            searched.append(1)
            original(self, *args, **kwargs)

        engine.Search.__init__ = counting
        try:
            with connection.execute_wrapper(record):
                search_trials(params, page=page)
        finally:
            engine.Search.__init__ = original
        hits += not searched
    return hits / len(QUERIES)


if __name__ == "__main__":
    import sys

    context = standalone_context(n=int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    print_figures(run(context), width=50)
    print(context.notes)
