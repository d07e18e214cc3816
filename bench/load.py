"""Load: rising concurrency against gunicorn on loopback with a Celery worker, until p95 degrades
(`make load`, `make load ARGS=--quick`).

Runs on the PostgreSQL and Redis of DATABASE_URL / REDIS_URL (`scripts/dev.py with` supplies
embedded ones), in a database of its own, `tf_load` (created, migrated and loaded with the demo
trials), with its own Celery queue and key prefixes in Redis, and an SMTP sink of its own.

A realistic mix: searches with filters, trial pages, the API, and one request in 50 a contact
submission through the real form. Each step runs N clients (threads with keep-alive
connections) for a fixed time; a step "breaks" when its p95 exceeds twice the first step's or
more than 1% of its requests fail. Afterwards every successful contact must have its inquiry
and two emails, all delivered. Prints a table and writes bench/results/load-<UTC time>.json.
"""

import argparse
import collections
import json
import os
import random
import sys
import threading
import time
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS, admin_connect, database_url, free_port, percentile, say
from soak_stack import (
    Browser,
    SmtpSink,
    celery_worker,
    gunicorn,
    make_tmp,
    portal_env,
    prepare_database,
    remove_tmp,
    submit_inquiry,
)

DATABASE = "tf_load"
QUERIES = [
    "breast cancer",
    "head and neck cancer",
    "lymphoma",
    "diabetes",
    "lung cancer",
    "melanoma",
    "heart failure",
    "leukemia",
    "asthma",
    "",
]
PLACES = ["", "", "Paris", "Milan", "Lyon", "Boston", "London"]
STATUSES = ["", "RECRUITING", "NOT_YET_RECRUITING"]
PHASES = ["", "", "PHASE2", "PHASE3"]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short steps up to 16 clients")
    parser.add_argument("--steps", help="comma-separated client counts, e.g. 1,2,4,8")
    parser.add_argument("--seconds", type=float, help="duration of each step")
    parser.add_argument("--all", action="store_true", help="run every step, even after a break")
    parser.add_argument("--seed", type=int, default=50)
    parser.add_argument(
        "--web-processes",
        type=int,
        default=1,
        help="gunicorn servers on ports of their own, clients spread over them as behind a load"
        " balancer (the web workers are shared out between them)",
    )
    parser.add_argument("--celery-workers", type=int, default=1, help="Celery worker processes")
    parser.add_argument(
        "--cluster",
        action="store_true",
        help="against bench/cluster.py: a primary and a streaming replica, PgBouncer, two web"
        " servers, split workers and two beats; then the replica's lag under an import",
    )
    parser.add_argument(
        "--compare",
        action="store_true",
        help="--cluster: the steps again with the web servers restarted without the replica,"
        " then without PgBouncer",
    )
    parser.add_argument("--no-replica", action="store_true", help="--cluster without the replica")
    parser.add_argument("--no-pgbouncer", action="store_true", help="--cluster without PgBouncer")
    parser.add_argument(
        "--import-trials",
        type=int,
        default=3000,
        help="--cluster: synthetic trials imported under load, then 1/3 of them changed as a"
        " nightly update, while the replica's lag is sampled (0: skip)",
    )
    args = parser.parse_args()
    if args.steps:
        args.steps = [int(x) for x in args.steps.split(",")]
    else:
        args.steps = [1, 2, 4, 8, 16] if args.quick else [1, 2, 4, 8, 16, 32, 64]
    if args.seconds is None:
        args.seconds = 8.0 if args.quick else 25.0
    return args


def ensure_database(url: str) -> None:
    name = urllib.parse.urlsplit(url).path.lstrip("/")
    with admin_connect(url) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
            say(f"load: created database {name}")


# What Mix.next draws, as the reports name it.
MIX = "search 38%, trial page 30%, API list 20%, API detail 7%, home 3%, contact 2%"


class Mix:
    """What a visitor does next: (kind, method, path)."""

    def __init__(self, rng: random.Random, trials: list[str], all_trials: list[str]):
        self.rng = rng
        self.trials = trials
        self.all_trials = all_trials

    def search_params(self) -> dict:
        r = self.rng
        params = {"q": r.choice(QUERIES), "near": r.choice(PLACES)}
        params["status"] = r.choice(STATUSES)
        params["phase"] = r.choice(PHASES)
        if r.random() < 0.2:
            params["page"] = "2"
        return {k: v for k, v in params.items() if v}

    def next(self) -> tuple[str, str]:
        x = self.rng.random()
        if x < 0.02:
            return "contact", self.rng.choice(self.trials)
        if x < 0.40:
            return "search", "/trials/?" + urllib.parse.urlencode(self.search_params())
        if x < 0.70:
            return "trial", f"/trials/{self.rng.choice(self.all_trials)}/"
        if x < 0.90:
            return "api-list", "/api/v1/trials?" + urllib.parse.urlencode(self.search_params())
        if x < 0.97:
            return "api-detail", f"/api/v1/trials/{self.rng.choice(self.all_trials)}"
        return "home", "/"


def run_step(
    ports: list[int], clients: int, seconds: float, mix_args, run_id: str, seed: int
) -> dict:
    stop = threading.Event()
    lock = threading.Lock()
    results = []  # (kind, seconds, ok, status)
    contacts = []

    def client(index: int):
        rng = random.Random(seed * 1000 + index)
        mix = Mix(rng, *mix_args)
        # Client i talks to server i mod K, as a load balancer spreading visitors would.
        browser = Browser(ports[index % len(ports)], timeout=60)
        n = 0
        while not stop.is_set():
            kind, target = mix.next()
            started = time.monotonic()
            if kind == "contact":
                sub = submit_inquiry(browser, target, run_id)
                ok, status = sub.outcome == "success", sub.status
                with lock:
                    contacts.append(sub)
            else:
                try:
                    # A fresh X-Forwarded-For per visitor: the per-IP search limit stays out
                    # of the way; it is tested elsewhere.
                    headers = {"X-Forwarded-For": f"10.9.{index}.{n % 250 + 1}"}
                    status, _h, _body = browser.request("GET", target, headers=headers)
                    ok = status == 200
                except OSError:
                    browser.close()
                    ok, status = False, 0
            with lock:
                results.append((kind, time.monotonic() - started, ok, status))
            n += 1
        browser.close()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    latencies = [r[1] * 1000 for r in results]
    errors = [r for r in results if not r[2]]
    by_kind = collections.defaultdict(list)
    for kind, secs, _ok, _status in results:
        by_kind[kind].append(secs * 1000)
    return {
        "clients": clients,
        "requests": len(results),
        "seconds": round(elapsed, 1),
        "rps": round(len(results) / elapsed, 1),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "errors": len(errors),
        "error_rate": round(len(errors) / max(len(results), 1), 4),
        "error_statuses": dict(collections.Counter(str(r[3]) for r in errors)),
        "p95_ms_by_kind": {k: round(percentile(v, 95), 1) for k, v in sorted(by_kind.items())},
        "count_by_kind": {k: len(v) for k, v in sorted(by_kind.items())},
        "contacts": contacts,
    }


def run_steps(args, ports, trials, all_trials) -> tuple[list, list, int | None]:
    """The rising steps; stops at the first that degrades unless --all."""
    run_id = f"L{int(time.time()) % 100000:05d}"
    steps, contacts, breaking = [], [], None
    for n, clients in enumerate(args.steps):
        step = run_step(ports, clients, args.seconds, (trials, all_trials), run_id, args.seed + n)
        contacts += step.pop("contacts")
        reasons = []
        if steps and step["p95_ms"] > 2 * steps[0]["p95_ms"]:
            reasons.append(f"p95 {step['p95_ms']:.0f} ms > 2x {steps[0]['p95_ms']:.0f} ms")
        if step["error_rate"] > 0.01:
            reasons.append(f"errors {step['error_rate']:.1%}")
        step["degraded"] = "; ".join(reasons)
        steps.append(step)
        say(
            f"load: {clients:3d} clients  {step['rps']:7.1f} req/s  p50 {step['p50_ms']:7.1f}"
            f"  p95 {step['p95_ms']:7.1f}  p99 {step['p99_ms']:7.1f} ms  errors"
            f" {step['error_rate']:.2%}" + (f"  DEGRADED: {step['degraded']}" if reasons else "")
        )
        if reasons and breaking is None:
            breaking = clients
            if not args.all:
                break
    return steps, contacts, breaking


def check_inquiries(url: str, contacts: list, sink: SmtpSink, timeout: float = 120.0) -> dict:
    """Every successful contact has its inquiry and two emails, all sent and received."""
    import psycopg

    succeeded = {s.email for s in contacts if s.outcome == "success"}
    deadline = time.monotonic() + timeout
    while True:
        with psycopg.connect(url) as conn:
            found = dict(
                conn.execute(
                    "SELECT email, public_id FROM patients_inquiry WHERE email = ANY(%s)",
                    [list(succeeded)],
                ).fetchall()
            )
            rows = conn.execute(
                "SELECT message_id, erase_key, status FROM notifications_outgoingemail "
                "WHERE erase_key = ANY(%s)",
                [[f"inquiry:{p}" for p in found.values()]],
            ).fetchall()
        received = collections.Counter(r.message_id for r in sink.received())
        unsent = [r for r in rows if r[2] != "sent" or received[r[0]] == 0]
        if not unsent or time.monotonic() > deadline:
            break
        time.sleep(2)
    return {
        "contacts_succeeded": len(succeeded),
        "contacts_failed": sum(1 for s in contacts if s.outcome != "success"),
        "inquiries_found": len(found),
        "inquiries_lost": len(succeeded - set(found)),
        "emails_expected": 2 * len(succeeded),
        "email_rows": len(rows),
        "emails_delivered_once": sum(1 for r in rows if received[r[0]] == 1),
        "emails_duplicated": sum(1 for r in rows if received[r[0]] > 1),
        "emails_missing": len(unsent),
    }


def main() -> int:
    args = parse_args()
    if args.cluster:
        return main_cluster(args)
    base_url, redis_url = os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL")
    if not base_url or not redis_url:
        print("load.py needs DATABASE_URL and REDIS_URL: run it with `make load`")
        return 2
    url = database_url(base_url, DATABASE)
    ensure_database(url)
    tmp = make_tmp("tf-load-")
    sink = SmtpSink()
    procs = []
    cores = os.cpu_count() or 1
    web_workers = 2 * cores + 1
    ports = [free_port() for _ in range(args.web_processes)]
    port = ports[0]
    per_process = max(2, web_workers // args.web_processes)
    prefix = f"tfload{os.getpid()}"
    env = portal_env(
        database_url=url,
        redis_url=redis_url,
        static_root=tmp / "static",
        web_port=port,
        smtp_port=sink.port,
        # Our own queue and keys in a Redis that may be shared.
        CELERY_QUEUE=f"{prefix}-celery",
        CELERY_KEY_PREFIX=f"{prefix}:",
        CACHE_KEY_PREFIX=prefix,
    )
    try:
        say(f"load: preparing {DATABASE} (migrate, demo trials, static files)")
        trials = prepare_database(env, tmp)
        all_trials = all_nct_ids(url)
        say(
            f"load: {args.web_processes} gunicorn server(s) x {per_process} workers"
            f" ({cores} cores) on ports {ports}, {args.celery_workers} Celery worker(s)"
        )
        for i, web_port in enumerate(ports):
            procs.append(gunicorn(env, web_port, per_process, tmp, name=f"gunicorn{i}"))
        for i in range(args.celery_workers):
            procs.append(celery_worker(env, f"load-worker{i}", tmp, concurrency=2))
        warm_up(port, all_trials)
        steps, contacts, breaking = run_steps(args, ports, trials, all_trials)
        say("load: checking that no inquiry was lost (waiting for the worker to send)")
        check = check_inquiries(url, contacts, sink)
    finally:
        for proc in reversed(procs):
            proc.stop()
        sink.close()
        remove_tmp(tmp)
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "cores": cores,
        "gunicorn_workers": per_process * args.web_processes,
        "web_processes": args.web_processes,
        "celery_workers": args.celery_workers,
        "step_seconds": args.seconds,
        "mix": MIX,
        **outcome(steps, breaking, check),
    }
    print_table(result)
    return save(result, "load")


def outcome(steps: list[dict], breaking: int | None, check: dict) -> dict:
    """The steps and what they held, and the inquiries' check: the figures of every report."""
    held = [s for s in steps if not s["degraded"]]
    return {
        "steps": steps,
        "breaks_at_clients": breaking,
        "held_up_to_clients": held[-1]["clients"] if held else None,
        "max_rps_held": max((s["rps"] for s in held), default=None),
        "inquiries": check,
    }


def save(result: dict, name: str) -> int:
    """Writes bench/results/<name>-<UTC time>.json; the exit code: 1 when an inquiry or email
    was lost or sent twice, or a step that held had errors."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(result, indent=2))
    say(f"load: results in {path.relative_to(RESULTS.parent.parent)}")
    check = result["inquiries"]
    lost = check["inquiries_lost"] or check["emails_missing"] or check["emails_duplicated"]
    held = [s for s in result["steps"] if not s["degraded"]]
    return 1 if lost or any(s["errors"] for s in held) else 0


def all_nct_ids(url: str) -> list[str]:
    import psycopg

    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT nct_id FROM trials_trial ORDER BY nct_id")]


def warm_up(port: int, trials: list[str], timeout: float = 30.0) -> None:
    """One request of each kind per web worker, so that the first step measures requests,
    not imports."""
    browser = Browser(port, timeout=timeout)
    for _ in range(10):
        for path in ("/", "/trials/?q=cancer", f"/trials/{trials[0]}/", "/api/v1/trials?q=a"):
            browser.request("GET", path)
    browser.close()


def print_table(result: dict) -> None:
    print()
    print("=== load report " + "=" * 60)
    print(f"{'clients':>7} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7}  ")
    for s in result["steps"]:
        print(
            f"{s['clients']:>7} {s['rps']:>8.1f} {s['p50_ms']:>8.1f} {s['p95_ms']:>8.1f}"
            f" {s['p99_ms']:>8.1f} {s['error_rate']:>7.2%}  {s['degraded']}"
        )
    print(
        f"breaks at {result['breaks_at_clients']} clients; held up to "
        f"{result['held_up_to_clients']} clients ({result['max_rps_held']} req/s)"
    )
    print(f"inquiries: {result['inquiries']}")


# --- against the cluster (`make load ARGS=--cluster`) ----------------------------------------


class LagSampler:
    """The primary's view of its replica, every quarter second: bytes of WAL not yet replayed
    and pg_stat_replication.replay_lag (how long WAL took from the primary's flush to the
    replica's replay)."""

    def __init__(self, pg):
        self.pg = pg
        self.samples: list[tuple[float, float, float]] = []  # (time, bytes behind, lag s)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.is_set():
            row = self.pg.query(
                "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::float8,"
                " coalesce(extract(epoch FROM replay_lag), 0)::float8 FROM pg_stat_replication"
            )
            if row:
                self.samples.append((time.monotonic(), row[0], row[1]))
            self.stop.wait(0.25)

    def summary(self) -> dict:
        self.stop.set()
        self.thread.join()
        lags = [s[2] for s in self.samples]
        behind = [s[1] for s in self.samples]
        return {
            "samples": len(self.samples),
            "replay_lag_p50_s": round(percentile(lags, 50), 3) if lags else None,
            "replay_lag_p95_s": round(percentile(lags, 95), 3) if lags else None,
            "replay_lag_max_s": round(max(lags), 3) if lags else None,
            "wal_behind_max_kb": round(max(behind) / 1024, 1) if behind else None,
        }


def import_under_load(cluster, n: int, ports, trials, all_trials, seed: int) -> dict:
    """n synthetic trials imported, then n/3 of them changed as a nightly update, each while 4
    clients browse, as the `import` worker would (through PgBouncer, its lock direct); the
    replica's lag sampled throughout."""
    import subprocess

    from generate import changed_records, generate
    from soak_stack import MANAGE

    zip_path = generate(n)
    nightly = cluster.directory / "nightly"
    nightly.mkdir()
    for record in changed_records(zip_path, n // 3, seed):
        nct_id = record["protocolSection"]["identificationModule"]["nctId"]
        (nightly / f"{nct_id}.json").write_text(json.dumps(record))
    result = {}
    for name, source in (("bulk_import", zip_path), ("nightly_update", nightly)):
        sampler = LagSampler(cluster.pg)
        started = time.monotonic()
        proc = subprocess.Popen(
            [*MANAGE, "import_ctgov", str(source)],
            env=cluster.env,
            stdout=subprocess.DEVNULL,
            stderr=open(cluster.directory / f"{name}.log", "w"),  # noqa: SIM115
        )
        steps = []
        while proc.poll() is None:
            steps.append(_strip(run_step(ports, 4, 5.0, (trials, all_trials), "I", seed)))
        seconds = time.monotonic() - started
        cluster.pg.caught_up()
        caught_up_after = time.monotonic() - started - seconds
        result[name] = {
            "records": n if name == "bulk_import" else n // 3,
            "exit_code": proc.returncode,
            "seconds": round(seconds, 1),
            "replica_caught_up_after_s": round(caught_up_after, 2),
            **sampler.summary(),
            "browsing_rps": round(sum(s["requests"] for s in steps) / max(seconds, 0.1), 1),
            "browsing_p95_ms": max((s["p95_ms"] for s in steps), default=None),
            "browsing_errors": sum(s["errors"] for s in steps),
        }
        say(f"load: {name}: {result[name]}")
    return result


def _strip(step: dict) -> dict:
    step.pop("contacts", None)
    return step


def main_cluster(args) -> int:
    from cluster import Cluster

    cores = os.cpu_count() or 1
    web_processes = max(args.web_processes, 2)
    per_process = max(2, (2 * cores + 1) // web_processes)
    port = int(os.environ.get("CLUSTER_PORT", 55440))
    cluster = Cluster(
        port=port,
        web_processes=web_processes,
        web_workers=per_process,
        replica=not args.no_replica,
        pooler=not args.no_pgbouncer,
    )
    lag = None
    compared = {}
    with cluster:
        url = cluster.pg.url()
        all_trials = all_nct_ids(url)
        for port_ in cluster.web_ports:
            warm_up(port_, all_trials, timeout=180)
        steps, contacts, breaking = run_steps(args, cluster.web_ports, cluster.trials, all_trials)
        if args.compare:
            # The same steps with the web servers restarted without the replica, then without
            # PgBouncer (on the same data, workers and Redis).
            bouncer = cluster.bouncer
            variants = {"without replica": {"DATABASE_REPLICA_URL": None}}
            if bouncer:
                variants["without PgBouncer"] = {
                    "DATABASE_URL": url,
                    "DATABASE_POOLER": None,
                    "DATABASE_DIRECT_URL": None,
                    "DATABASE_REPLICA_URL": cluster.pg.url(replica=True),
                }
            # The first pass met a cold cache: the same again, for the order's effect.
            variants["with replica and PgBouncer, again"] = {}
            for name, changes in variants.items():
                say(f"load: web servers restarted {name}")
                cluster.restart_web(**changes)
                for port_ in cluster.web_ports:
                    warm_up(port_, all_trials, timeout=180)
                more, more_contacts, more_breaking = run_steps(
                    args, cluster.web_ports, cluster.trials, all_trials
                )
                contacts += more_contacts
                compared[name] = {"steps": more, "breaks_at_clients": more_breaking}
            cluster.restart_web()
        say("load: checking that no inquiry was lost (waiting for the email worker to send)")
        check = check_inquiries(url, contacts, cluster.sink)
        if args.import_trials and not args.no_replica:
            lag = import_under_load(
                cluster, args.import_trials, cluster.web_ports, cluster.trials, all_trials,
                args.seed,
            )  # fmt: skip
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "cores": cores,
        "cluster": {
            "replica": not args.no_replica,
            "pgbouncer": not args.no_pgbouncer,
            "web_processes": web_processes,
            "gunicorn_workers_each": per_process,
            "celery": "workers email (celery,email), alerts, import; 2 beats",
        },
        "step_seconds": args.seconds,
        "mix": MIX,
        **outcome(steps, breaking, check),
        "replica_under_import": lag,
        "compared": compared,
    }
    print_table(result)
    for name, variant in compared.items():
        print(f"--- {name}")
        print_table({**result, **variant, "held_up_to_clients": None, "max_rps_held": None})
    if lag:
        for name in ("bulk_import", "nightly_update"):
            print(f"{name}: {lag[name]}")
    flavour = "".join(
        ["-noreplica" if args.no_replica else "", "-nopgbouncer" if args.no_pgbouncer else ""]
    )
    return save(result, f"load-cluster{flavour}")


if __name__ == "__main__":
    sys.exit(main())
