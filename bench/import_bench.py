"""Import section: `import_ctgov` on the bulk zip against the COPY floor, and the nightly update.

- import: `manage.py import_ctgov <zip>` as a child process, after-import work included (it is
  part of an import); trials/s over wall time, and that process's own peak RSS (wait4 rusage).
- COPY floor: the same zip members, read the same way (trials.sources), streamed into one
  `bench_copy(doc jsonb)` table with COPY: what "read it into PostgreSQL" costs at best.
- update (`run_update`, run last by bench/run.py): 1,000 changed records re-imported the way
  the nightly sync does it, then the alert matching they trigger, synchronously.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg

from bench.common import PYTHON, ROOT, BenchContext, say

UPDATE_COUNT = 1000
# Another seed for a second nightly update of a reused database: the same one would change
# nothing (the records would come in unchanged).
UPDATE_SEED = int(os.environ.get("BENCH_UPDATE_SEED", "1000"))


def _import_child(ctx: BenchContext) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MB, last output line) of `manage.py import_ctgov ZIP`."""
    started = time.monotonic()
    proc = subprocess.Popen(
        [PYTHON, "manage.py", "import_ctgov", str(ctx.zip_path)],
        cwd=ROOT,
        env=ctx.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    # The pipes are small (a summary line; stderr only on failures): wait4 gives this child's
    # own rusage, not that of every child this process ever had.
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    out, err = proc.stdout.read().decode(), proc.stderr.read().decode()
    proc.stdout.close()
    proc.stderr.close()
    if proc.returncode != 0:
        raise RuntimeError(f"import_ctgov failed ({proc.returncode}):\n{err[-3000:]}")
    return elapsed, usage.ru_maxrss / 1024, out.strip().splitlines()[-1]


def load(ctx: BenchContext) -> None:
    """Load the zip without measuring (when the import section is not asked for)."""
    elapsed, _, summary = _import_child(ctx)
    say(f"loaded {ctx.zip_path.name} in {elapsed:.0f} s: {summary}")


def copy_floor(ctx: BenchContext) -> float:
    """Seconds to COPY every zip member into a single jsonb column (then dropped)."""
    from trials.sources import iter_zip_members

    with psycopg.connect(ctx.database_url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_copy")
        conn.execute("CREATE TABLE bench_copy (doc jsonb)")
        started = time.monotonic()
        count = 0
        with (
            conn.transaction(),
            conn.cursor() as cursor,
            cursor.copy("COPY bench_copy (doc) FROM STDIN") as copy,
        ):
            for _label, data in iter_zip_members(ctx.zip_path):
                # COPY text format: escape backslashes and line breaks.
                copy.write(
                    data.replace(b"\\", b"\\\\")
                    .replace(b"\n", b"\\n")
                    .replace(b"\r", b"\\r")
                    .replace(b"\t", b"\\t")
                    + b"\n"
                )
                count += 1
        elapsed = time.monotonic() - started
        conn.execute("DROP TABLE bench_copy")
    if count != ctx.n:
        raise RuntimeError(f"COPY loaded {count} documents, expected {ctx.n}")
    return elapsed


def run(ctx: BenchContext) -> dict:
    say(f"importing {ctx.zip_path.name} with import_ctgov")
    elapsed, rss_mb, summary = _import_child(ctx)
    rate = ctx.n / elapsed
    say(f"import: {elapsed:.1f} s, {rate:,.0f} trials/s, peak RSS {rss_mb:.0f} MB ({summary})")
    copy_s = copy_floor(ctx)
    copy_rate = ctx.n / copy_s
    say(f"COPY floor: {copy_s:.1f} s, {copy_rate:,.0f} documents/s")
    return {
        "import_trials_per_s": rate,
        "import_s": elapsed,
        "import_peak_rss_mb": rss_mb,
        "copy_docs_per_s": copy_rate,
        "copy_s": copy_s,
        "import_over_copy_ratio": rate / copy_rate,
    }


def setup_django(ctx: BenchContext) -> None:
    os.environ.update(ctx.env())
    import django

    django.setup()


def run_update(ctx: BenchContext) -> dict:
    """The nightly update: 1,000 changed records through the importer (as trials.sync does),
    after_import, then the alert matching they trigger, run here synchronously."""
    from bench.generate import changed_records

    setup_django(ctx)
    from django.db import connection

    from notifications.alerts import match_new_versions
    from notifications.models import MatchCursor
    from trials.importer import Importer, after_import, import_lock
    from trials.models import TrialVersion

    records = changed_records(ctx.zip_path, UPDATE_COUNT, UPDATE_SEED)
    # A portal that ran the nightly matching is caught up with every version before tonight's:
    # the alerts section may have left the cursor anywhere.
    last = TrialVersion.objects.order_by("-id").values_list("id", flat=True).first() or 0
    MatchCursor.objects.update_or_create(name="alerts", defaults={"last_version_id": last})
    errors = []
    started = time.monotonic()
    importer = Importer(on_error=lambda label, message: errors.append(f"{label}: {message}"))
    with import_lock(wait=False):
        stats = importer.run((f"update[{i}]", r) for i, r in enumerate(records))
    after_import(stats)
    imported = time.monotonic()
    matches = match_new_versions()
    done = time.monotonic()
    connection.close()
    say(
        f"update: {stats.summary()} in {imported - started:.1f} s, "
        f"alert matching {done - imported:.1f} s ({matches:,} matches)"
    )
    if errors:
        say(f"update errors: {errors[:3]}")
    return {
        "update_1000_s": done - started,
        "update_import_s": imported - started,
        "update_match_s": done - imported,
        "update_matches": matches,
        "update_changed": stats.updated,
    }
