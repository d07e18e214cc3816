"""Fault injection with real servers of its own (`make soak`, `make soak ARGS=--quick`).

Starts an embedded PostgreSQL, a Valkey and an SMTP sink in a temporary directory, gunicorn with
the portal, two Celery workers and the outbox sweeper; submits inquiries through the real contact
form (CSRF token and all) from a few concurrent clients while:

- Redis is stopped for a while (no persistence: the messages queued in it are lost) and restarted;
- the SMTP server refuses for a while (451 to RCPT TO, then 421 after DATA in a second window);
- a Celery worker is `kill -9`ed while it is in an SMTP session (the sink answers DATA after a
  short delay so that kills land mid-send), half the time its pool process alone (the worker
  lives on and requeues the task), half the time the whole worker (restarted at once);
- PostgreSQL is restarted a few times under load: down ~2 s (within the web processes' retries
  of writes, DB_OUTAGE_RETRY_SECONDS), and once for longer than those retries, so that
  patients meet the 503 page that keeps what they typed and press "Try again".

Then it waits for recovery and reports the outcome of every submission (bench/results/
soak-submissions.csv): stored at once, or answered 503 with the typed text kept in the page's
form (then sent again with "Try again", as a patient would), or anything else. It passes when
every submission was stored or answered 503 with its text kept (none a 500, none lost, none
stored twice), every email of the stored inquiries reached the sink (0 missing), and nothing
else went wrong. An email received twice with the same Message-ID is counted and shown, not
failed: a worker killed between the SMTP server's 250 and recording SENT is the one window an
SMTP client cannot close, and receivers drop such a copy by its Message-ID. Everything it
started is stopped and its temporary directory removed on exit, Ctrl-C included.
"""

import argparse
import collections
import contextlib
import csv
import os
import random
import signal
import sys
import threading
import time
from pathlib import Path

from common import RESULTS, free_port, percentile, say
from soak_stack import (
    Browser,
    Postgres,
    Proc,
    SmtpSink,
    Valkey,
    celery_worker,
    gunicorn,
    make_tmp,
    pid_of_client,
    portal_env,
    prepare_database,
    remove_tmp,
    submit_inquiry,
)

WEB_PROCESSES = 3
# What a patient may meet: stored at once, or a 503 page that kept what they typed.
ACCEPTABLE = ("success", "success-after-503", "kept-503")
# Shorter than production so that the run ends in minutes: a worker killed mid-send leaves its
# row SENDING for OUTBOX_STUCK_AFTER_SECONDS (must exceed twice EMAIL_TIMEOUT) before a resend.
EMAIL_TIMEOUT = 10
STUCK_AFTER = 30
SWEEP_EVERY = 10
# The web processes retry writes this long on a lost connection (15 s in production): the 2-s
# restarts stay within it, the long one outlasts it.
DB_RETRY = 8


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 inquiries, 10 kills (~3 min)")
    parser.add_argument("--inquiries", type=int)
    parser.add_argument("--kills", type=int)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--rate", type=float, help="submissions per second (all clients)")
    parser.add_argument("--pg-restarts", type=int)
    parser.add_argument("--redis-down", type=float, help="seconds Redis stays down")
    parser.add_argument(
        "--pg-long-down",
        type=float,
        default=DB_RETRY + 10,
        help="seconds PostgreSQL stays down at its last restart (longer than the retries)",
    )
    parser.add_argument("--drain-timeout", type=float, help="seconds to wait for recovery")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    quick = args.quick
    defaults = {
        "inquiries": 100 if quick else 1000,
        "kills": 10 if quick else 100,
        "rate": 2.0 if quick else 4.0,
        "pg_restarts": 2 if quick else 4,
        "redis_down": 15.0 if quick else 45.0,
        # Only a bound: the drain ends as soon as every email is at the sink. A busy 2-core
        # machine (load ~20) needed more than 600 s to resend what 100 kills left behind.
        "drain_timeout": 600.0 if quick else 1200.0,
    }
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


class Soak:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.tmp = make_tmp("tf-soak-")
        self.logs = self.tmp / "logs"
        self.logs.mkdir()
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.pg_lock = threading.Lock()
        self.drained = threading.Event()
        self.submissions = []
        self.faults = collections.Counter()
        self.fault_log: list[str] = []
        self.last_fault_end = 0.0
        self.kills_mid_send = 0
        self.procs: list[Proc] = []
        self.workers: list[Proc] = []
        self.pg = self.valkey = self.sink = None
        self.t0 = time.monotonic()

    # --- set-up and tear-down ------------------------------------------------------------------

    def start(self):
        say(f"soak: servers of its own under {self.tmp}")
        self.pg = Postgres(self.tmp)
        self.pg.create_database("soak")
        self.valkey = Valkey(self.tmp)
        self.sink = SmtpSink()
        self.web_port = free_port()
        self.env = portal_env(
            database_url=self.pg.url("soak"),
            redis_url=self.valkey.url,
            static_root=self.tmp / "static",
            web_port=self.web_port,
            smtp_port=self.sink.port,
            EMAIL_TIMEOUT=str(EMAIL_TIMEOUT),
            OUTBOX_STUCK_AFTER_SECONDS=str(STUCK_AFTER),
            SOAK_SWEEP_EVERY=str(SWEEP_EVERY),
            DB_OUTAGE_RETRY_SECONDS=str(DB_RETRY),
        )
        say("soak: migrate, demo trials, static files")
        self.trials = prepare_database(self.env, self.logs)
        if not self.trials:
            raise RuntimeError("no trial takes inquiries in the demo data")
        say(f"soak: {len(self.trials)} trials take inquiries")
        self.procs.append(gunicorn(self.env, self.web_port, WEB_PROCESSES, self.logs))
        for i in (1, 2):
            worker = celery_worker(self.env, f"worker{i}", self.logs)
            self.workers.append(worker)
            self.procs.append(worker)
        self.procs.append(
            Proc("sweeper", [sys.executable, "bench/soak_sweeper.py"], self.env, self.logs)
        )
        self.sink.state.delay = 0.2  # "writing to disk": kills land inside SMTP sessions
        time.sleep(3)  # workers connect to the broker
        self.warm_up(WEB_PROCESSES * 2)

    def warm_up(self, pages: int) -> None:
        """Load a contact form a few times first, as a deployment's health checks do: a web
        process's first page (imports, templates) takes seconds on a busy machine, and the
        run measures the portal under faults, not its start."""
        browser = Browser(self.web_port, timeout=120)
        for i in range(pages):
            with contextlib.suppress(OSError):
                browser.request("GET", f"/trials/{self.trials[i % len(self.trials)]}/contact/")
            browser.close()  # a new connection: another web process may take it

    def close(self):
        self.stop.set()
        for proc in self.procs:
            with contextlib.suppress(Exception):
                proc.stop()
        if self.sink:
            self.sink.close()
        if self.valkey:
            self.valkey.stop()
        if self.pg:
            self.pg.stop()
        if self.args.keep:
            say(f"soak: kept {self.tmp}")
        else:
            remove_tmp(self.tmp)

    def note(self, kind: str, text: str):
        self.faults[kind] += 1
        self.fault_log.append(f"{time.monotonic() - self.t0:7.1f}s {text}")
        say(f"fault: {text}")

    # --- load ----------------------------------------------------------------------------------

    def clients(self):
        total, rate, n_clients = self.args.inquiries, self.args.rate, self.args.clients
        next_index = iter(range(total))
        index_lock = threading.Lock()
        # Each client sends one inquiry every `period` seconds (less when it is behind), so that
        # an outage costs a few submissions rather than a burst of instant failures.
        period = n_clients / rate
        run_id = f"{int(time.time()) % 100000:05d}"

        def client():
            browser = Browser(self.web_port)
            while not self.stop.is_set():
                with index_lock:
                    i = next(next_index, None)
                if i is None:
                    break
                began = time.monotonic()
                nct_id = self.trials[i % len(self.trials)]
                sub = submit_inquiry(
                    browser, nct_id, run_id, redis_down=lambda: self.valkey.is_down
                )
                with self.lock:
                    self.submissions.append(sub)
                self.stop.wait(max(0.2, period - (time.monotonic() - began)))
            browser.close()

        threads = [threading.Thread(target=client, daemon=True) for _ in range(n_clients)]
        for thread in threads:
            thread.start()
        return threads

    def progress(self) -> float:
        with self.lock:
            return len(self.submissions) / self.args.inquiries

    def wait_progress(self, fraction: float) -> bool:
        while self.progress() < fraction:
            if self.stop.wait(0.2):
                return False
        return True

    # --- faults --------------------------------------------------------------------------------

    def chaos(self) -> list[threading.Thread]:
        """Redis, SMTP and PostgreSQL faults at set points of the run, each on its own."""
        a = self.args
        plan = [(0.15, "redis"), (0.40, "smtp-rcpt"), (0.70, "smtp-data")]
        plan += [
            ((k + 1) / (a.pg_restarts + 1) + 0.03, "pg-long" if k == a.pg_restarts - 1 else "pg")
            for k in range(a.pg_restarts)
        ]
        threads = [
            threading.Thread(target=self.fault, args=(fraction, kind), daemon=True)
            for fraction, kind in plan
        ]
        for thread in threads:
            thread.start()
        return threads

    def fault(self, fraction: float, kind: str):
        a = self.args
        if self.wait_progress(fraction):
            if kind == "redis":
                self.note("redis_stops", f"Redis stopped for {a.redis_down:.0f}s")
                self.valkey.stop()
                self.stop.wait(a.redis_down)
                self.valkey.start()
                say("fault over: Redis back (empty)")
            elif kind.startswith("smtp"):
                mode = kind.split("-")[1]
                seconds = 10.0 if a.quick else 20.0
                self.note("smtp_refusals", f"SMTP refusing ({mode}) for {seconds:.0f}s")
                self.sink.state.refusing = mode
                self.stop.wait(seconds)
                self.sink.state.refusing = ""
                say("fault over: SMTP accepting")
            elif kind.startswith("pg"):
                down = a.pg_long_down if kind == "pg-long" else 2.0
                with self.pg_lock:
                    self.note("pg_restarts", f"PostgreSQL restarting (down {down:.0f}s)")
                    self.pg.restart(down)
                say("fault over: PostgreSQL back")
            self.last_fault_end = max(self.last_fault_end, time.monotonic())

    def killer(self):
        """kill -9 a worker that is inside an SMTP session, every few seconds, until the target
        number of kills is reached or everything was delivered."""
        target = self.args.kills
        # Spread the kills over the expected duration of the sending.
        spacing = max(1.0, 0.8 * self.args.inquiries / self.args.rate / max(target, 1))
        kills = 0
        while kills < target and not self.stop.is_set() and not self.drained.is_set():
            ports = self.sink.sessions_in_data()
            pid = worker = None
            for port in ports:
                pid = pid_of_client(port)
                worker = next((w for w in self.workers if pid in w.tree()), None)
                if worker:
                    break
            if not worker:
                time.sleep(0.05)
                continue
            kills += 1
            self.kills_mid_send += 1
            if pid != worker.pid and kills % 2:
                os.kill(pid, signal.SIGKILL)
                self.note("worker_kills", f"kill -9 pool process {pid} of {worker.name} mid-send")
            else:
                worker.kill9()
                self.note("worker_kills", f"kill -9 {worker.name} (pid {worker.pid}) mid-send")
                worker.start()
            self.last_fault_end = max(self.last_fault_end, time.monotonic())
            self.stop.wait(spacing * self.rng.uniform(0.5, 1.5))

    # --- checks --------------------------------------------------------------------------------

    def db_state(self):
        """(inquiries by email, emails by message id) of this run, straight from PostgreSQL."""
        import psycopg

        with psycopg.connect(self.pg.url("soak"), connect_timeout=5) as conn:
            inquiries = collections.defaultdict(list)
            for email, public_id in conn.execute(
                "SELECT email, public_id FROM patients_inquiry WHERE email LIKE 'soak.%%'"
            ).fetchall():
                inquiries[email].append(public_id)
            keys = [f"inquiry:{p}" for public_ids in inquiries.values() for p in public_ids]
            rows = conn.execute(
                "SELECT message_id, erase_key, status, attempts, template "
                "FROM notifications_outgoingemail WHERE erase_key = ANY(%s)",
                [keys],
            ).fetchall()
        return inquiries, rows

    def drain(self):
        """Wait until every email of the stored inquiries is SENT (or FAILED) and at the sink."""
        deadline = time.monotonic() + self.args.drain_timeout
        last_report = 0.0
        while time.monotonic() < deadline:
            try:
                _inquiries, rows = self.db_state()
            except Exception as exc:
                say(f"drain: database not answering ({type(exc).__name__})")
                time.sleep(2)
                continue
            pending = [r for r in rows if r[2] not in ("sent", "failed")]
            at_sink = {r.message_id for r in self.sink.received()}
            missing = [r for r in rows if r[0] not in at_sink]
            if not pending and not missing:
                self.drained.set()
                return True
            if time.monotonic() - last_report > 15:
                states = collections.Counter(r[2] for r in rows)
                say(f"drain: {len(rows)} emails, {dict(states)}, {len(missing)} not at the sink")
                last_report = time.monotonic()
            time.sleep(2)
        return False

    def report(self, drained: bool, elapsed: float) -> int:
        inquiries, rows = self.db_state()
        subs = self.submissions
        outcomes = collections.Counter(s.outcome for s in subs)
        stored = [s for s in subs if s.outcome in ("success", "success-after-503")]
        lost_rows = [s for s in stored if s.email not in inquiries]
        kept = [s for s in subs if s.outcome == "kept-503"]
        stored_anyway = [s for s in kept if s.email in inquiries]
        unacceptable = [s for s in subs if s.outcome not in ACCEPTABLE]
        doubled = {email: len(ids) for email, ids in inquiries.items() if len(ids) > 1}
        received = self.sink.received()
        counts = collections.Counter(r.message_id for r in received)
        expected = {r[0] for r in rows}
        per_inquiry = collections.Counter(r[1] for r in rows)
        short_of_two = [k for k, n in per_inquiry.items() if n != 2]
        once = sum(1 for m in expected if counts[m] == 1)
        duplicated = {m: counts[m] for m in expected if counts[m] > 1}
        missing = [m for m in expected if counts[m] == 0]
        strangers = [m for m in counts if m not in expected]
        failed_rows = [r for r in rows if r[2] == "failed"]
        first_seen = {}
        for r in received:
            first_seen.setdefault(r.message_id, r.at)
        last_delivery = max(first_seen.values(), default=self.last_fault_end)
        recovery = max(0.0, last_delivery - self.last_fault_end)
        posted = [s for s in subs if s.seconds and s.outcome != "exception"]
        post_down = [s.seconds for s in posted if s.redis_down]
        post_up = [s.seconds for s in posted if not s.redis_down]
        attempts = collections.Counter(r[3] for r in rows)
        self.write_submissions(inquiries)

        def ms(values, p):
            return f"{percentile(values, p) * 1000:.0f} ms" if values else "n/a"

        order = ["success", "success-after-503", "kept-503", "500", "503-not-kept", "error",
                 "refused", "invalid", "exception"]  # fmt: skip
        per_outcome = ", ".join(f"{k} {outcomes[k]}" for k in order if outcomes[k]) or "none"
        lines = [
            "",
            "=== soak report " + "=" * 60,
            f"submitted              {len(subs)}",
            f"outcome per submission {per_outcome}",
            '  (success-after-503: a 503 page kept the text and "Try again" stored it;'
            " kept-503: still 503 after a minute of tries)",
            f"answered 500           {outcomes['500']}",
            f"form page reloaded     {sum(s.form_reloads for s in subs)} times after a 503",
            f"rows found             {len(stored) - len(lost_rows)} of {len(stored)} stored"
            f"  ({len(stored_anyway)} more stored though the page said 503)",
            f"inquiries stored twice {len(doubled)}",
            f"emails expected        {len(expected)}  (outbox rows of {len(inquiries)} stored"
            f" inquiries; {len(short_of_two)} inquiries without exactly 2)",
            f"delivered once         {once}",
            f"missing                {len(missing)}  (failed rows: {len(failed_rows)})",
            f"duplicates             {len(duplicated)} received twice with the same Message-ID"
            + (f" {sorted(duplicated.values())}" if duplicated else "")
            + "  (not a failure: a worker killed between the SMTP server's 250 and recording"
            " SENT, the one window an SMTP client cannot close; receivers drop the copy by its"
            " Message-ID)",
            f"unknown at the sink    {len(strangers)}",
            f"sink                   {len(received)} accepted, {self.sink.state.refused} refused,"
            f" {self.sink.state.cut_off} cut off by a dead client before 250",
            f"send attempts per row  {dict(sorted(attempts.items()))}",
            "faults injected        "
            + ", ".join(
                f"{k}={self.faults[k]}"
                for k in ("redis_stops", "smtp_refusals", "worker_kills", "pg_restarts")
            )
            + f"  (kills while the worker was in an SMTP session: {self.kills_mid_send})",
            f"recovery               all delivered {recovery:.0f}s after the last fault"
            + ("" if drained else f"  (NOT drained within {self.args.drain_timeout:.0f}s)"),
            f"contact POST, Redis down  p50 {ms(post_down, 50)}  p95 {ms(post_down, 95)}"
            f"  max {ms(post_down, 100)}  (n={len(post_down)})",
            f"contact POST, Redis up    p50 {ms(post_up, 50)}  p95 {ms(post_up, 95)}"
            f"  max {ms(post_up, 100)}  (n={len(post_up)})",
            f"run time               {elapsed:.0f}s",
        ]
        if unacceptable:
            by = collections.Counter(f"{s.outcome} {s.status or s.detail}" for s in unacceptable)
            lines.append(f"failed submissions     {dict(by)}")
        problems = {
            "not drained": not drained,
            "submissions neither stored nor kept": bool(unacceptable),
            "stored rows lost": bool(lost_rows),
            "inquiries stored twice": bool(doubled),
            "inquiries without exactly 2 emails": bool(short_of_two),
            "missing emails": bool(missing),
            "unknown emails": bool(strangers),
        }
        failed = [name for name, bad in problems.items() if bad]
        if failed:
            verdict = "FAIL: " + ", ".join(failed)
        else:
            verdict = "PASS: no 500, nothing lost, nothing stored twice, 0 missing emails"
            if duplicated:
                verdict += f"; {len(duplicated)} same-Message-ID duplicates (see above)"
        lines.append(f"RESULT                 {verdict}")
        print("\n".join(lines), flush=True)
        for s in unacceptable[:10]:
            print(f"  {s.outcome}: {s.token} status {s.status} {s.detail}")
        for s in lost_rows[:10]:
            print(f"  lost row: {s.token} {s.status}")
        for m in missing[:10]:
            print(f"  missing: {m} {[r for r in rows if r[0] == m]}")
        for m in list(duplicated)[:10]:
            print(f"  duplicate: {m} x{duplicated[m]} {[r for r in rows if r[0] == m]}")
        return 1 if failed else 0

    def write_submissions(self, inquiries) -> None:
        """Every submission's outcome, one line each: bench/results/soak-submissions.csv."""
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / "soak-submissions.csv"
        with path.open("w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(["token", "trial", "outcome", "first_status", "tries",
                             "form_reloads", "post_seconds", "rows"])  # fmt: skip
            for s in self.submissions:
                writer.writerow([s.token, s.nct_id, s.outcome, s.status, s.tries,
                                 s.form_reloads, f"{s.seconds:.3f}",
                                 len(inquiries.get(s.email, []))])  # fmt: skip
        say(f"soak: the outcome of each submission is in {path}")

    def run(self) -> int:
        self.start()
        say(
            f"soak: {self.args.inquiries} inquiries at {self.args.rate}/s from "
            f"{self.args.clients} clients, {self.args.kills} kills"
        )
        started = time.monotonic()
        self.t0 = started
        killer = threading.Thread(target=self.killer, daemon=True)
        clients = self.clients()
        faults = self.chaos()
        killer.start()
        for thread in clients:
            thread.join()
        say(f"soak: all {len(self.submissions)} submitted; waiting for the faults to end")
        for thread in faults:
            thread.join()
        say("soak: Redis, SMTP and PostgreSQL faults over; waiting for every email")
        drained = self.drain()
        killer.join()
        time.sleep(3)  # anything a sweeper resends late would show up now
        return self.report(drained, time.monotonic() - started)


def main() -> int:
    args = parse_args()
    soak = Soak(args)

    def terminate(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    try:
        return soak.run()
    except KeyboardInterrupt:
        say("soak: interrupted")
        return 130
    finally:
        soak.close()


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
