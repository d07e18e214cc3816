"""The portal as production runs it, for browser tests that must catch what only bites there.

`ProductionServer` runs gunicorn on `config.settings` (the production settings module, not the
tests' override) with production values in the environment: DEBUG off, ALLOWED_HOSTS and
SITE_URL naming the server's own address, secure cookies, two-step staff login, the admin at a
path of its own, and static files collected into a directory of the run and served by
whitenoise from their manifest (a template naming a missing file fails as in production).

What still differs from production, and why, is in README.md ("Tests, fuzzing, ..."): plain
HTTP on localhost (no TLS certificate in a test), hence no HTTPS redirect and no HSTS.
"""

import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.conftest import ROOT, worker_database_url

# Not "admin/": a link built without reverse() would break here, as under a real ADMIN_PATH.
ADMIN_PATH = "staff-desk/"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ProductionServer:
    def __init__(self, static_root: Path, log: Path, env: dict[str, str] | None = None):
        self.port = free_port()
        # localhost, not 127.0.0.1: browsers treat http://localhost as a secure context, so
        # the Secure cookies of production are kept there as they are over HTTPS.
        self.url = f"http://localhost:{self.port}"
        self.log = log
        inherited = {
            key: value
            for key, value in os.environ.items()
            # The browser tests allow sync ORM calls under Playwright's loop; a deployment does
            # not. The search limit is the tests' (raised for the suite): production's applies.
            if key not in ("DJANGO_ALLOW_ASYNC_UNSAFE", "SEARCH_RATE_PER_MINUTE")
        }
        self.env = {
            **inherited,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DOTENV_FILE": "/nonexistent",  # a developer's .env must not change the test
            "DEBUG": "False",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "localhost",
            "SITE_URL": self.url,
            "CSRF_TRUSTED_ORIGINS": self.url,
            "SECURE_COOKIES": "True",
            "REQUIRE_2FA": "True",
            "ADMIN_PATH": ADMIN_PATH,
            "STATIC_ROOT": str(static_root),
            "DATABASE_URL": worker_database_url(),
            **(env or {}),
        }
        self.proc: subprocess.Popen | None = None

    def collectstatic(self) -> None:
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
            cwd=ROOT, env=self.env, check=True, timeout=300,
        )  # fmt: skip

    def start(self, timeout: float = 60.0) -> "ProductionServer":
        self.collectstatic()
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "gunicorn", "config.wsgi:application",
                "--bind", f"127.0.0.1:{self.port}", "--workers", "2", "--threads", "4",
                "--access-logfile", "-", "--error-logfile", "-",
            ],
            cwd=ROOT, env=self.env, stdout=self.log.open("wb"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as answer:  # noqa: S310
                    if answer.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer: {self.log_tail()}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""
