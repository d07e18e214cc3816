"""Logs keep no personal data and no capability token: a whole journey through gunicorn, started
the way the Dockerfile starts it, then a grep of everything it wrote.

Capability URLs (status, withdraw, manage, confirm, share, one-click, site confirmation...) are
as good as a password, and the admin's inquiry search puts what a coordinator typed (names,
emails) in a query string: both used to reach the access log.
"""

import json
import logging
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import requests

from tests import conftest
from tests.conftest import ROOT, SEED_DATA, ZEYNEP, ensure_gazetteer, import_records

PERSONAL = ["Zeynep", "Quillfeather", "zq-7731", "671234589", "71 23 45 89", "8831"]
SEARCH_WORDS = "xylophagous-disease-4471"  # what a patient typed: health data


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def production_command(port: int) -> list[str]:
    """The Dockerfile's CMD, on a free local port with one worker."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    command = json.loads(re.search(r"^CMD (\[.*\])$", dockerfile, re.MULTILINE).group(1))
    assert command[0] == "gunicorn"
    command[0] = str(ROOT / ".venv" / "bin" / "gunicorn")
    command[command.index("--bind") + 1] = f"127.0.0.1:{port}"
    command[command.index("--workers") + 1] = "1"
    return command


class Gunicorn:
    def __init__(self, log: Path):
        self.port = free_port()
        self.log = log
        self.base = f"http://127.0.0.1:{self.port}"
        environ = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.test_settings",
            "DATABASE_URL": conftest.worker_database_url(),
            "LOG_LEVEL": "INFO",
        }
        self.proc = subprocess.Popen(
            production_command(self.port), cwd=ROOT, env=environ, start_new_session=True,
            stdout=log.open("wb"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if requests.get(f"{self.base}/healthz", timeout=30).status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.3)
        output = self.stop()
        raise RuntimeError(f"gunicorn did not start: {output[-3000:]}")

    def stop(self) -> str:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        return self.log.read_text()


def form_post(session, base, path, data, **kwargs):
    """GET the page for its CSRF cookie, then POST the form (no redirects followed)."""
    session.get(base + path.split("?")[0].replace("/open", "/"), timeout=30)
    data = {**data, "csrfmiddlewaretoken": session.cookies.get("csrftoken", "")}
    return session.post(base + path, data=data, allow_redirects=False, timeout=30, **kwargs)


def test_a_whole_journey_leaves_no_personal_data_or_token_in_the_logs(transactional_db, tmp_path):
    from django.contrib.auth import get_user_model

    from notifications import alerts
    from notifications.models import Subscription
    from patients import alternatives, services, sites
    from patients.models import Inquiry, InquiryStatus
    from patients.roles import make_coordinator
    from tests.conftest import purge_test_queue
    from trials.models import Site
    from trials.search import SearchParams

    ensure_gazetteer()
    import_records(SEED_DATA)
    site = Site.objects.get(trial__nct_id="NCT05738187")
    staff = get_user_model().objects.create_user(
        "dana", "dana@hospital.example", "a-long-test-password-42", is_staff=True,
        is_superuser=True,
    )  # fmt: skip
    make_coordinator(staff, site)

    server = Gunicorn(tmp_path / "gunicorn.log")
    tokens = []
    try:
        base, patient = server.base, requests.Session()
        # A patient searches in their own words, then writes to the study site.
        patient.get(f"{base}/trials/", params={"q": SEARCH_WORDS, "near": "Strasbourg"})
        patient.get(f"{base}/api/v1/trials", params={"q": SEARCH_WORDS})
        patient.get(f"{base}/trials/feed/", params={"q": SEARCH_WORDS})
        sent = form_post(
            patient, base, "/trials/NCT05738187/contact/?near=Strasbourg",
            {**ZEYNEP, "site": site.pk},
        )  # fmt: skip
        assert sent.status_code == 302, sent.text[:2000]
        tokens.append(sent.headers["Location"].rstrip("/").rsplit("/", 1)[1])
        patient.get(base + sent.headers["Location"])

        inquiry = Inquiry.objects.get()
        services.inquiry_change_status(
            inquiry=inquiry, to_status=InquiryStatus.NOT_ELIGIBLE, actor=staff
        )
        status, withdraw = services.status_token(inquiry), services.withdraw_token(inquiry)
        one_click = alternatives.one_click_token(inquiry, SearchParams(q="cancer"))
        tokens += [status, withdraw, one_click]
        patient.get(f"{base}/inquiries/status/{status}/")
        patient.get(f"{base}/inquiries/status/{status}/print/")
        patient.get(f"{base}/alerts/one-click/{one_click}/")
        patient.get(f"{base}/inquiries/withdraw/{withdraw}/")

        # Alerts: subscribe, confirm, manage, unsubscribe.
        subscribed = form_post(
            patient, base, f"/alerts/subscribe/?q={SEARCH_WORDS}",
            {"email": ZEYNEP["email"], "language": "en", "frequency": "daily",
             "search": f"q={SEARCH_WORDS}"},
        )  # fmt: skip
        assert subscribed.status_code == 302, subscribed.text[:2000]
        subscription = Subscription.objects.get()
        confirm = alerts.confirm_token(subscription)
        tokens.append(confirm)
        form_post(patient, base, f"/alerts/confirm/{confirm}/", {})
        manage = alerts.manage_token(subscription.subscriber)
        unsubscribe = alerts.unsubscribe_token([subscription.id])
        tokens += [manage, unsubscribe]
        patient.get(f"{base}/alerts/manage/{manage}/")
        patient.get(f"{base}/alerts/unsubscribe/{unsubscribe}/")

        # Private notes shared behind a link and a passcode.
        patient.get(f"{base}/trials/NCT05738187/")
        share = patient.post(
            f"{base}/notes/share/",
            json={
                "nct_id": "NCT05738187", "ciphertext": "AAAA" * 20, "iv": "A" * 16,
                "salt": "A" * 22 + "==", "iterations": 600000, "verifier": "A" * 43 + "=",
                "expires_days": 1,
            },
            headers={"X-CSRFToken": patient.cookies.get("csrftoken", "")},
            timeout=30,
        )  # fmt: skip
        assert share.status_code == 201, share.text
        shared = share.json()["url"].rstrip("/").rsplit("/", 1)[1]
        tokens.append(shared)
        patient.get(f"{base}/notes/s/{shared}/")
        patient.post(
            f"{base}/notes/s/{shared}/open", json={"verifier": "B" * 43 + "="},
            headers={"X-CSRFToken": patient.cookies.get("csrftoken", "")},
        )  # fmt: skip

        # A coordinator: the monthly link, then the admin's search for the patient by name.
        site_token = sites.confirm_token(site, staff)
        tokens.append(site_token)
        requests.get(f"{base}/sites/confirm/{site_token}/", timeout=30)
        coordinator = requests.Session()
        login = form_post(
            coordinator, base, "/admin/login/",
            {"username": "dana", "password": "a-long-test-password-42", "next": "/admin/"},
        )  # fmt: skip
        assert login.status_code == 302, login.text[:2000]
        found = coordinator.get(
            f"{base}/admin/patients/inquiry/", params={"q": "Quillfeather zq-7731@example.org"},
            headers={"Referer": f"{base}/inquiries/status/{status}/?q={SEARCH_WORDS}"},
        )  # fmt: skip
        assert found.status_code == 200
        # A 404 under a capability path is logged too.
        requests.get(f"{base}/notes/s/{shared}/nothing-here", timeout=30)
    finally:
        output = server.stop()
        purge_test_queue()

    assert "GET /trials/" in output and "POST /trials/NCT05738187/contact/" in output, output
    leaks = [secret for secret in [*PERSONAL, SEARCH_WORDS, *tokens] if secret in output]
    assert leaks == [], "\n".join(
        line for line in output.splitlines() if any(s in line for s in leaks)
    )


def test_django_logs_through_the_same_redacting_formatter(settings):
    from logging.config import dictConfig

    from config.logs import RedactingFormatter

    def writing_handlers(logger):
        """The handlers a record of `logger` reaches (as Logger.callHandlers walks them)."""
        while logger:
            yield from (h for h in logger.handlers if not isinstance(h, logging.NullHandler))
            logger = logger.parent if logger.propagate else None

    dictConfig(settings.LOGGING)
    for name in ("django.server", "django.request", "celery.worker", "gunicorn.access", "x"):
        handlers = list(writing_handlers(logging.getLogger(name)))
        assert handlers, name
        assert all(isinstance(h.formatter, RedactingFormatter) for h in handlers), name
    line = logging.makeLogRecord(
        {"msg": '"GET /alerts/manage/%s/?q=%s HTTP/1.1" 200', "args": ("WzEs:1x:abc", "asthma")}
    )
    assert RedactingFormatter().format(line) == (
        '"GET /alerts/manage/[redacted]/?[redacted] HTTP/1.1" 200'
    )


def test_tokens_are_redacted_under_a_language_prefix_too():
    """Patient pages live under /fr/ and /it/ as well (i18n_patterns): the same capability
    paths there hide their tokens."""
    from config.logs import redact

    for prefix in ("", "/fr", "/it"):
        line = f'"GET {prefix}/alerts/manage/WzEs:1x:abcdefghijkl/ HTTP/1.1" 200'
        assert redact(line) == f'"GET {prefix}/alerts/manage/[redacted]/ HTTP/1.1" 200'
