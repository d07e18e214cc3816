"""Writes ride out a lost database connection (issue 22), tested with real connection kills.

A live server handles the request in its own thread, with its own PostgreSQL connection. The
test makes that request wait on a table lock held by another connection, kills the waiting
backend with pg_terminate_backend (as a restart or a failover does), releases the lock, and
checks that the request was retried on a fresh connection and did its work exactly once.

The outage that lasts longer than the retries (the 503 page that keeps the typed text) is in
tests/browser/test_db_outage.py; real PostgreSQL restarts under load are `make soak`'s.
"""

import base64
import http.cookiejar
import json
import os
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import psycopg
import pytest
from django.db import connection

from notifications.models import OutgoingEmail, Subscription
from patients import services
from patients.consent import CONSENT_TEXT, CONSENT_VERSION
from patients.models import EventKind, Inquiry, InquiryEvent, InquiryStatus
from tests.conftest import (
    SEED_DATA,
    clear_rate_limits,
    coordinator,
    ensure_gazetteer,
    import_records,
)
from tests.conftest import worker_database_url as database_url
from trials.models import Site

TRIAL = "NCT05738187"
_CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


# --- a visitor, and the kill ------------------------------------------------------------------


class Visitor:
    """A browser without JavaScript: cookies, forms posted with their hidden fields."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect()
        )

    def open(self, path: str, data: dict | None = None, headers: dict | None = None):
        body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
        url = self.base_url + path
        request = urllib.request.Request(url, data=body, headers=headers or {})  # noqa: S310
        try:
            with self.opener.open(request, timeout=60) as answer:
                return answer.status, dict(answer.headers), answer.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read().decode()

    def form(self, path: str) -> dict:
        """The hidden fields of the page's form (CSRF token, submission key, ...)."""
        status, _headers, html = self.open(path)
        assert status == 200, (path, status)
        fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))
        fields["csrfmiddlewaretoken"] = _CSRF_RE.search(html).group(1)
        return fields


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # the test reads the 302 itself


def _locker():
    # No prepared statements: the polling below would prepare its query, which PgBouncer in
    # transaction pooling (make test-pgbouncer) cannot follow across server connections.
    return psycopg.connect(database_url(), autocommit=False, prepare_threshold=None)


def _waiting_backends(conn) -> list[int]:
    return [
        row[0]
        for row in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        ).fetchall()
    ]


def killed_while_waiting(lock_sql: str, request) -> tuple:
    """Run request() in a thread while `lock_sql` holds a lock it needs; kill its backend as
    soon as it waits; let the retry through; return request()'s answer."""
    answer: list = []
    with _locker() as locker, _locker() as killer:
        killer.autocommit = True
        locker.execute(lock_sql)
        thread = threading.Thread(target=lambda: answer.append(request()), daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not (waiting := _waiting_backends(killer)):
            assert time.monotonic() < deadline, "the request never waited for the lock"
            time.sleep(0.05)
        killed = killer.execute("SELECT pg_terminate_backend(%s)", [waiting[0]]).fetchone()[0]
        assert killed
        # The retry, on a fresh connection, waits for the lock again: then let it through.
        deadline = time.monotonic() + 30
        while not [pid for pid in _waiting_backends(killer) if pid != waiting[0]]:
            assert time.monotonic() < deadline, "the request was not retried"
            time.sleep(0.05)
        locker.commit()
        thread.join(60)
    assert answer, "the request did not finish"
    return answer[0]


@pytest.fixture
def portal(live_server, transactional_db):
    ensure_gazetteer()
    import_records(SEED_DATA)
    clear_rate_limits()
    yield Visitor(live_server.url)
    clear_rate_limits()


ALICE = {
    "first_name": "Alice",
    "last_name": "Martin",
    "email": "alice.martin@example.org",
    "phone": "+33 6 12 34 56 78",
    "preferred_language": "fr",
    "message": "Mon cancer est revenu.",
    "consent": "on",
    "step": "send",
}


def contact_form(visitor: Visitor) -> dict:
    fields = visitor.form(f"/trials/{TRIAL}/contact/")
    site = Site.objects.get(trial__nct_id=TRIAL)
    return {**fields, **ALICE, "site": str(site.pk)}


# --- the contact form ---------------------------------------------------------------------------


def test_a_connection_killed_inside_the_inquirys_transaction_is_retried_once(portal):
    data = contact_form(portal)
    status, headers, _ = killed_while_waiting(
        # Blocks the outbox INSERT, inside the inquiry's transaction (after the inquiry row).
        "LOCK TABLE notifications_outgoingemail IN EXCLUSIVE MODE",
        lambda: portal.open(f"/trials/{TRIAL}/contact/", data),
    )
    assert status == 302 and "/contact/sent/" in headers["Location"]
    inquiry = Inquiry.objects.get()
    assert inquiry.message == ALICE["message"]
    assert InquiryEvent.objects.get(kind=EventKind.SUBMITTED).submission_key == uuid.UUID(
        data["submission_key"]
    )
    assert sorted(OutgoingEmail.objects.values_list("template", flat=True)) == [
        "inquiry-copy",
        "inquiry-to-site",
    ]


def test_a_connection_killed_before_the_transaction_is_retried(portal):
    data = contact_form(portal)
    status, headers, _ = killed_while_waiting(
        "LOCK TABLE patients_inquiryevent IN ACCESS EXCLUSIVE MODE",
        lambda: portal.open(f"/trials/{TRIAL}/contact/", data),
    )
    assert status == 302 and "/contact/sent/" in headers["Location"]
    assert Inquiry.objects.count() == 1


def test_the_same_post_sent_again_makes_no_second_inquiry(portal):
    """What a retry after a lost COMMIT answer, "Try again" on the 503 page or a double click
    sends: the same form, the same submission key."""
    data = contact_form(portal)
    first = portal.open(f"/trials/{TRIAL}/contact/", data)
    again = portal.open(f"/trials/{TRIAL}/contact/", data)
    assert first[0] == again[0] == 302
    assert first[1]["Location"] == again[1]["Location"]
    assert Inquiry.objects.count() == 1
    assert OutgoingEmail.objects.count() == 2


# --- the other writes -------------------------------------------------------------------------


def test_a_subscription_survives_a_killed_connection(portal):
    fields = portal.form("/alerts/subscribe/?q=cancer")
    data = {**fields, "email": "bob@example.org", "frequency": "daily", "language": "en"}
    status, headers, _ = killed_while_waiting(
        "LOCK TABLE notifications_outgoingemail IN EXCLUSIVE MODE",
        lambda: portal.open("/alerts/subscribe/", data),
    )
    assert status == 302 and headers["Location"].endswith("/alerts/check-your-email/")
    assert Subscription.objects.count() == 1
    assert OutgoingEmail.objects.filter(template="alert-confirm").count() == 1


def _inquiry() -> Inquiry:
    site = Site.objects.get(trial__nct_id=TRIAL)
    return services.inquiry_create(
        trial=site.trial,
        site=site,
        data={k: v for k, v in ALICE.items() if k not in ("consent", "step")},
        language="fr",
        consent_text=str(CONSENT_TEXT),
        consent_version=CONSENT_VERSION,
    )


def test_a_withdrawal_survives_a_killed_connection(portal):
    inquiry = _inquiry()
    path = f"/inquiries/withdraw/{services.withdraw_token(inquiry)}/"
    fields = portal.form(path)
    status, _headers, _ = killed_while_waiting(
        # Erasure blanks the inquiry's emails: an UPDATE of the outbox.
        "LOCK TABLE notifications_outgoingemail IN EXCLUSIVE MODE",
        lambda: portal.open(path, fields),
    )
    assert status == 302
    inquiry.refresh_from_db()
    assert inquiry.status == InquiryStatus.WITHDRAWN and inquiry.is_erased
    assert inquiry.events.filter(kind=EventKind.WITHDRAWN).count() == 1


def test_a_shared_notes_link_survives_a_killed_connection(portal):
    fields = portal.form(f"/trials/{TRIAL}/")

    def b64(size: int) -> str:
        return base64.b64encode(os.urandom(size)).decode()

    body = {
        "nct_id": TRIAL,
        "ciphertext": b64(40),
        "iv": b64(12),
        "salt": b64(16),
        "iterations": 600000,
        "verifier": b64(32),
        "expires_days": 3,
    }
    headers = {"Content-Type": "application/json", "X-CSRFToken": fields["csrfmiddlewaretoken"]}
    request = urllib.request.Request(  # noqa: S310
        portal.base_url + "/notes/share/", data=json.dumps(body).encode(), headers=headers
    )

    def post():
        try:
            with portal.opener.open(request, timeout=60) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    status, answer = killed_while_waiting("LOCK TABLE patients_sharednotes IN EXCLUSIVE MODE", post)
    assert status == 201, answer
    assert "/notes/s/" in answer["url"]


def test_an_admin_status_change_survives_a_killed_connection(portal):
    inquiry = _inquiry()
    coordinator("bob", inquiry.site)
    login = portal.form("/admin/login/")
    status, _, _ = portal.open(
        "/admin/login/",
        {**login, "username": "bob", "password": "a-long-test-password", "next": "/admin/"},
    )
    assert status == 302
    page = f"/admin/patients/inquiry/{inquiry.pk}/change/"
    fields = portal.form(page)
    data = {**fields, "to_status": "contacted", "note": "Called back."}
    status, headers, _ = killed_while_waiting(
        "LOCK TABLE patients_inquiryevent IN ACCESS EXCLUSIVE MODE",
        lambda: portal.open(f"/admin/patients/inquiry/{inquiry.pk}/workflow/status/", data),
    )
    assert status == 302 and headers["Location"].endswith(page)
    inquiry.refresh_from_db()
    assert inquiry.status == InquiryStatus.CONTACTED
    assert inquiry.events.filter(kind=EventKind.STATUS_CHANGE).count() == 1


def test_an_admin_reply_sent_twice_is_sent_once(portal):
    inquiry = _inquiry()
    coordinator("bob", inquiry.site)
    login = portal.form("/admin/login/")
    portal.open(
        "/admin/login/",
        {**login, "username": "bob", "password": "a-long-test-password", "next": "/admin/"},
    )
    fields = portal.form(f"/admin/patients/inquiry/{inquiry.pk}/change/")
    data = {**fields, "message": "Pouvez-vous venir lundi ?"}
    for _ in range(2):
        status, _, _ = portal.open(f"/admin/patients/inquiry/{inquiry.pk}/workflow/reply/", data)
        assert status == 302
    assert inquiry.events.filter(kind=EventKind.REPLY).count() == 1
    assert OutgoingEmail.objects.filter(template="inquiry-reply").count() == 1


def test_a_query_error_is_not_retried(db):
    """Only a lost connection is retried: a mistake in a query must fail at once."""
    from django.db import DatabaseError

    from config.outage import connection_lost

    with pytest.raises(DatabaseError) as raised, connection.cursor() as cursor:
        cursor.execute("SELECT * FROM no_such_table")
    assert not connection_lost(raised.value)
