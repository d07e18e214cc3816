"""What every benchmark shares: the context a section runs in, small measuring helpers, and the
databases, ports and processes the scripts set up.

Each section is a module with `run(ctx: BenchContext) -> dict`, returning the numbers it
measured under the result keys of bench/README.md (numbers only), plus optional extra keys.
"""

import contextlib
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
RESULTS = ROOT / "bench" / "results"
PYTHON = sys.executable

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# One key for every process of a run; random, because production settings refuse a written one.
RUN_SECRET_KEY = secrets.token_urlsafe(50)


@dataclass
class BenchContext:
    n: int  # trials in the benchmark database
    database_url: str  # a migrated database holding the N synthetic trials (after import)
    redis_url: str
    zip_path: Path  # the synthetic bulk zip the database was loaded from
    quick: bool = False  # fewer repetitions (a smoke run while developing)
    notes: dict = field(default_factory=dict)  # free text a section wants printed at the end

    def env(self, **extra) -> dict:
        """The environment for a child process (manage.py, gunicorn, celery) on this database."""
        return {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "SECRET_KEY": os.environ.get("SECRET_KEY") or RUN_SECRET_KEY,
            "DEBUG": "False",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SITE_URL": "http://127.0.0.1",
            "EMAIL_BACKEND": "locmem",
            **extra,
        }


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def percentile(values: list[float], p: float) -> float:
    """p in 0..100, linear interpolation (numpy's default)."""
    if not values:
        return float("nan")
    data = sorted(values)
    k = (len(data) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (k - lo)


def summary_ms(seconds: list[float]) -> dict:
    ms = [s * 1000 for s in seconds]
    return {
        "p50": percentile(ms, 50),
        "p95": percentile(ms, 95),
        "p99": percentile(ms, 99),
        "mean": statistics.fmean(ms) if ms else float("nan"),
        "count": len(ms),
    }


def standalone_context(*, n: int = 0, zip_path: Path | None = None) -> BenchContext:
    """The context of a section run on its own (`python -m bench.<section> [--quick]`), on the
    database of DATABASE_URL as it is."""
    return BenchContext(
        n=n,
        database_url=os.environ["DATABASE_URL"],
        redis_url=os.environ["REDIS_URL"],
        zip_path=zip_path or DATA / "none.zip",
        quick="--quick" in sys.argv,
    )


def print_figures(results: dict, width: int = 30) -> None:
    for key, value in results.items():
        print(f"{key:{width}} {value:10.2f}")


# --- databases, ports, processes -------------------------------------------------------------


def database_url(base: str, name: str) -> str:
    """DATABASE_URL with another database name (same server, user and options)."""
    parts = urllib.parse.urlsplit(base)
    return urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))


def admin_connect(url: str):
    """An autocommit connection to the server's `postgres` database, to create or drop others."""
    import psycopg

    return psycopg.connect(database_url(url, "postgres"), autocommit=True)


def use_database(name: str) -> None:
    """A script run by hand on another database of DATABASE_URL's server: the environment
    Django is then set up from (a local database: DEBUG unless told otherwise)."""
    os.environ["DATABASE_URL"] = database_url(os.environ["DATABASE_URL"], name)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "True")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_group(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM to the process's session (it was started with start_new_session=True, so its
    children get it too), SIGKILL when it outlives `timeout`."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
