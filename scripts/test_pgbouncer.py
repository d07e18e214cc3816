"""The test suite through a real PgBouncer in transaction pooling (`make test-pgbouncer`, a step
of .ci/run): what production runs with DATABASE_POOLER=pgbouncer must hold there too.

PgBouncer (Debian's `pgbouncer`) listens on PGBOUNCER_TEST_PORT (default 55490) in front of the
PostgreSQL of DATABASE_URL; the suite's DATABASE_URL points at it, DATABASE_DIRECT_URL at
PostgreSQL itself (the import's advisory lock). The test database is kept between the run's
start and end (--reuse-db: PgBouncer's pooled server connections would block Django's DROP
DATABASE) and dropped straight on PostgreSQL before and after.

    python scripts/test_pgbouncer.py [pytest arguments]
"""

import os
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from cluster import PgBouncer, pgbouncer_bin  # noqa: E402


def drop_test_database(direct_url: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    parts = urllib.parse.urlsplit(direct_url)
    admin = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def main() -> int:
    direct_url = os.environ.get("DATABASE_URL")
    if not direct_url:
        print("test_pgbouncer.py needs DATABASE_URL: run it with `make test-pgbouncer`")
        return 2
    if not pgbouncer_bin():
        print("pgbouncer is not installed: apt-get install pgbouncer")
        return 2
    parts = urllib.parse.urlsplit(direct_url)
    query = dict(urllib.parse.parse_qsl(parts.query))
    host = query.get("host") or parts.hostname or "127.0.0.1"
    port = parts.port or 5432
    name = parts.path.lstrip("/")
    test_name = f"test_{name}"
    bouncer_port = int(os.environ.get("PGBOUNCER_TEST_PORT", "55490"))
    directory = Path(tempfile.mkdtemp(prefix="tf-pgbouncer-"))
    directory.chmod(0o755)  # PgBouncer runs as `postgres` under root: it reads its files
    bouncer = PgBouncer(directory, bouncer_port, port, None, host=host)
    through = urllib.parse.urlunsplit(
        parts._replace(netloc=f"{parts.username or 'postgres'}@127.0.0.1:{bouncer_port}", query="")
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.test_settings",
        "DATABASE_URL": through,
        "DATABASE_POOLER": "pgbouncer",
        "DATABASE_DIRECT_URL": direct_url,
    }
    print(f"test-pgbouncer: the suite through PgBouncer {through} (transaction pooling)")
    try:
        drop_test_database(direct_url, test_name)
        args = sys.argv[1:]
        return subprocess.run(
            [sys.executable, "-m", "pytest", "--reuse-db", "-p", "no:cacheprovider", *args],
            cwd=ROOT,
            env=env,
        ).returncode
    finally:
        bouncer.stop()
        shutil.rmtree(directory, ignore_errors=True)
        drop_test_database(direct_url, test_name)


if __name__ == "__main__":
    sys.exit(main())
