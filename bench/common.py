"""What every benchmark section shares: the context it runs in and small measuring helpers.

Each section is a module with `run(ctx: BenchContext) -> dict`, returning the numbers it
measured under the result keys of bench/README.md (numbers only), plus optional extra keys.
"""

import os
import secrets
import statistics
import sys
import time
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
