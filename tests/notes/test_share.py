"""Notes shared through a passcode-protected link: /notes/share/ and /notes/s/<token>/.

The browser encrypts; these tests treat the ciphertext as opaque bytes. The end-to-end path
(real WebCrypto encryption, then a grep of the database for the note) is in
tests/browser/test_notes.py.
"""

import base64
import datetime
import hashlib
import json
import os
import re

import pytest
import time_machine
from django.conf import settings
from django.test import Client
from django.utils import timezone

from notes import services as notes
from notes.models import SharedNotes
from notes.tasks import purge_expired_shares
from tests.notes.helpers import database_rows_containing
from trials.models import Trial

pytestmark = pytest.mark.django_db

NCT = "NCT05738187"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def share_payload(**changes):
    payload = {
        "nct_id": NCT,
        "ciphertext": b64(os.urandom(300)),
        "iv": b64(os.urandom(12)),
        "salt": b64(os.urandom(16)),
        "iterations": 600_000,
        "verifier": b64(os.urandom(32)),
        "expires_days": 7,
    }
    payload.update(changes)
    return payload


def post_json(client, url, data, **extra):
    body = data if isinstance(data, str | bytes) else json.dumps(data)
    return client.post(url, body, content_type="application/json", **extra)


def create_share(client, **changes):
    payload = share_payload(**changes)
    response = post_json(client, "/notes/share/", payload)
    assert response.status_code == 201, response.content
    token = response.json()["url"].rstrip("/").rsplit("/", 1)[1]
    return token, payload


def open_share(client, token, verifier_b64, **extra):
    return post_json(client, f"/notes/s/{token}/open", {"verifier": verifier_b64}, **extra)


def test_it_creates_a_link_with_a_long_random_token_and_stores_no_secret(client):
    before = timezone.now()
    response = post_json(client, "/notes/share/", payload := share_payload(expires_days=3))
    assert response.status_code == 201
    body = response.json()
    match = re.fullmatch(r"http://testserver/notes/s/([A-Za-z0-9_-]{43})/", body["url"])
    assert match, body["url"]
    token = match[1]
    assert len(base64.urlsafe_b64decode(token + "=")) * 8 >= 256

    share = SharedNotes.objects.get()
    assert share.trial.nct_id == NCT
    # Neither the token nor the verifier is stored: only their hashes.
    assert share.token_hash == hashlib.sha256(token.encode()).hexdigest()
    verifier = base64.b64decode(payload["verifier"])
    assert share.verifier_hash == hashlib.sha256(verifier).hexdigest()
    assert database_rows_containing(token) == []
    assert database_rows_containing(payload["verifier"]) == []
    assert bytes(share.ciphertext) == base64.b64decode(payload["ciphertext"])
    assert share.iterations == 600_000 and len(bytes(share.salt)) == 16
    expected = before + datetime.timedelta(days=3)
    assert abs((share.expires_at - expected).total_seconds()) < 60
    assert datetime.datetime.fromisoformat(body["expires_at"]) == share.expires_at


def test_two_links_never_share_a_token(client):
    first, _ = create_share(client)
    second, _ = create_share(client)
    assert first != second


@pytest.mark.parametrize(
    "changes",
    [
        {"ciphertext": "not base64!"},
        {"ciphertext": b64(os.urandom(10))},  # shorter than an AES-GCM tag
        {"iv": b64(os.urandom(16))},
        {"salt": b64(os.urandom(8))},
        {"verifier": b64(os.urandom(16))},
        {"verifier": "%%%"},
        {"iterations": 1000},
        {"iterations": 50_000_000},
        {"iterations": "many"},
        {"nct_id": "NCT0000"},
        {"nct_id": None},
    ],
)
def test_it_refuses_a_malformed_share_with_a_message(client, changes):
    response = post_json(client, "/notes/share/", share_payload(**changes))
    assert response.status_code == 400
    assert "could not be shared" in response.json()["error"]
    assert not SharedNotes.objects.exists()


@pytest.mark.parametrize("days", [0, 31, -1, "a week", None])
def test_the_link_lasts_from_one_to_thirty_days(client, days):
    response = post_json(client, "/notes/share/", share_payload(expires_days=days))
    assert response.status_code == 400
    assert response.json()["error"] == "Choose how long the link works: from 1 to 30 days."
    for limit in (1, 30):
        response = post_json(client, "/notes/share/", share_payload(expires_days=limit))
        assert response.status_code == 201


@pytest.mark.parametrize("body", ["not json", "[1, 2]", ""])
def test_it_refuses_a_body_that_is_not_a_json_object(client, body):
    response = post_json(client, "/notes/share/", body)
    assert response.status_code == 400
    assert response.json()["error"]


def test_it_refuses_an_unknown_trial(client):
    response = post_json(client, "/notes/share/", share_payload(nct_id="NCT99999999"))
    assert response.status_code == 400
    assert "not in TrialFinder" in response.json()["error"]


def test_it_accepts_notes_up_to_64_kb_and_refuses_more_with_413(client):
    largest = share_payload(ciphertext=b64(os.urandom(notes.MAX_CIPHERTEXT_BYTES)))
    assert post_json(client, "/notes/share/", largest).status_code == 201

    too_large = share_payload(ciphertext=b64(os.urandom(notes.MAX_CIPHERTEXT_BYTES + 1)))
    response = post_json(client, "/notes/share/", too_large)
    assert response.status_code == 413
    assert "at most 64 KB" in response.json()["error"]

    huge = share_payload(ciphertext=b64(os.urandom(200_000)))
    response = post_json(client, "/notes/share/", huge)
    assert response.status_code == 413
    assert "at most 64 KB" in response.json()["error"]
    assert SharedNotes.objects.count() == 1


def test_extra_fields_are_never_stored(client):
    # A buggy or hostile client sending notes in clear: they are dropped, not stored.
    payload = share_payload(notes=[{"text": "Ask about the anaesthesia wombat"}])
    assert post_json(client, "/notes/share/", payload).status_code == 201
    assert database_rows_containing("wombat") == []


def test_every_post_needs_the_csrf_token():
    client = Client(enforce_csrf_checks=True)
    assert post_json(client, "/notes/share/", share_payload()).status_code == 403

    client.get(f"/trials/{NCT}/")  # the page sets the CSRF cookie, notes.js sends it back
    csrf = client.cookies[settings.CSRF_COOKIE_NAME].value
    response = post_json(client, "/notes/share/", share_payload(), HTTP_X_CSRFTOKEN=csrf)
    assert response.status_code == 201
    token = response.json()["url"].rstrip("/").rsplit("/", 1)[1]

    url = f"/notes/s/{token}/open"
    assert post_json(client, url, {"verifier": b64(os.urandom(32))}).status_code == 403
    opened = post_json(client, url, {"verifier": b64(os.urandom(32))}, HTTP_X_CSRFTOKEN=csrf)
    assert opened.status_code == 403 and "Wrong passcode" in opened.json()["error"]

    assert client.post(f"/trials/{NCT}/notes/", {"text": "a note"}).status_code == 403


def test_the_share_page_is_private_and_shows_the_trial(client):
    token, payload = create_share(client)
    response = client.get(f"/notes/s/{token}/")
    assert response.status_code == 200
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    assert '<meta name="robots" content="noindex, nofollow">' in html
    assert "Evaluation of the Efficacy and Safety of Local Cryotherapy" in html
    assert "Unresectable locoregional recurrence in a previously irradiated area" in html
    assert f'data-salt="{payload["salt"]}"' in html and 'data-iterations="600000"' in html
    # The ciphertext is released only to the right verifier.
    assert payload["ciphertext"] not in html
    assert "Reading shared notes needs JavaScript" in html


def test_the_right_verifier_releases_the_ciphertext(client):
    token, payload = create_share(client)
    response = open_share(client, token, payload["verifier"])
    assert response.status_code == 200
    assert response.json() == {"ciphertext": payload["ciphertext"], "iv": payload["iv"]}
    assert response["Referrer-Policy"] == "same-origin"
    assert "no-store" in response["Cache-Control"]


def test_a_wrong_verifier_is_refused_with_the_passcodes_left(client):
    token, _ = create_share(client)
    response = open_share(client, token, b64(os.urandom(32)))
    assert response.status_code == 403
    body = response.json()
    assert "ciphertext" not in body
    assert body["remaining"] == 4
    assert body["error"] == (
        "Wrong passcode. After 4 more wrong passcodes, this link will be locked for 15 minutes."
    )
    assert SharedNotes.objects.get().failed_attempts_total == 1


@pytest.mark.parametrize("body", [{}, {"verifier": "short"}, {"verifier": b64(b"x" * 31)}, "x"])
def test_a_malformed_verifier_is_refused_without_counting(client, body):
    token, _ = create_share(client)
    response = post_json(client, f"/notes/s/{token}/open", body)
    assert response.status_code == 400
    assert response.json()["error"]
    assert SharedNotes.objects.get().failed_attempts_total == 0


def test_five_wrong_passcodes_lock_the_link_for_15_minutes(client):
    with time_machine.travel("2026-03-02 10:00:00 +0000", tick=False) as clock:
        token, payload = create_share(client)
        for remaining in (4, 3, 2, 1):
            response = open_share(client, token, b64(os.urandom(32)))
            assert response.status_code == 403
            assert response.json()["remaining"] == remaining
            clock.shift(datetime.timedelta(minutes=2))

        response = open_share(client, token, b64(os.urandom(32)))
        assert response.status_code == 429
        assert response["Retry-After"] == "900"
        assert response.json()["error"] == (
            "Too many wrong passcodes: this link is locked. Try again in 15 minutes."
        )

        # While locked, even the right passcode is not checked.
        clock.shift(datetime.timedelta(minutes=14))
        response = open_share(client, token, payload["verifier"])
        assert response.status_code == 429
        assert response["Retry-After"] == "60"
        assert "Try again in 1 minute." in response.json()["error"]

        clock.shift(datetime.timedelta(minutes=1, seconds=1))
        assert open_share(client, token, payload["verifier"]).status_code == 200
        # A fresh window: five more wrong passcodes are needed to lock it again.
        response = open_share(client, token, b64(os.urandom(32)))
        assert response.status_code == 403 and response.json()["remaining"] == 4


def test_wrong_passcodes_spread_over_time_do_not_lock_the_link(client):
    with time_machine.travel("2026-03-02 10:00:00 +0000", tick=False) as clock:
        token, payload = create_share(client)
        for _ in range(8):
            assert open_share(client, token, b64(os.urandom(32))).status_code == 403
            clock.shift(datetime.timedelta(minutes=4))
        assert open_share(client, token, payload["verifier"]).status_code == 200
        assert SharedNotes.objects.get().failed_attempts_total == 8


def test_the_link_is_disabled_after_100_wrong_passcodes(client):
    token, payload = create_share(client)
    SharedNotes.objects.update(failed_attempts_total=99)
    response = open_share(client, token, b64(os.urandom(32)))
    assert response.status_code == 410
    assert "no longer works" in response.json()["error"]
    share = SharedNotes.objects.get()
    assert share.disabled_at is not None
    assert bytes(share.ciphertext) == b""  # nothing left to release

    response = open_share(client, token, payload["verifier"])
    assert response.status_code == 410
    page = client.get(f"/notes/s/{token}/")
    assert page.status_code == 410
    assert "This link no longer works" in page.content.decode()
    assert page["Referrer-Policy"] == "same-origin"


def test_passcode_attempts_are_limited_per_ip_with_retry_after(client):
    # Spread over many links, so that no per-link lock stops them first.
    tokens = [create_share(client)[0] for _ in range(5)]
    statuses = []
    for i in range(21):
        statuses.append(open_share(client, tokens[i % 5], b64(os.urandom(32))).status_code)
    assert statuses[:20] == [403] * 20
    assert statuses[20] == 429
    response = open_share(client, tokens[0], b64(os.urandom(32)))
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 900
    assert "from your connection" in response.json()["error"]
    # Another visitor is not affected.
    other = open_share(client, tokens[0], b64(os.urandom(32)), REMOTE_ADDR="192.0.2.7")
    assert other.status_code in (403, 429)
    assert "from your connection" not in other.json()["error"]


def test_link_creation_is_limited_per_ip_with_retry_after(client):
    for _ in range(20):
        assert post_json(client, "/notes/share/", share_payload()).status_code == 201
    response = post_json(client, "/notes/share/", share_payload())
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 3600
    assert "many links" in response.json()["error"]
    assert SharedNotes.objects.count() == 20


def test_expired_links_answer_404_and_the_daily_task_deletes_them(client):
    with time_machine.travel("2026-03-02 10:00:00 +0000", tick=False) as clock:
        old, payload = create_share(client, expires_days=1)
        clock.shift(datetime.timedelta(days=1))
        fresh, _ = create_share(client, expires_days=1)
        clock.shift(datetime.timedelta(seconds=1))

        page = client.get(f"/notes/s/{old}/")
        assert page.status_code == 404
        assert "This link has expired or does not exist" in page.content.decode()
        assert page["Referrer-Policy"] == "same-origin"
        response = open_share(client, old, payload["verifier"])
        assert response.status_code == 404
        assert response.json()["error"] == "This link has expired or does not exist."

        assert purge_expired_shares() == 1
        assert purge_expired_shares() == 0
        assert client.get(f"/notes/s/{fresh}/").status_code == 200
        assert SharedNotes.objects.count() == 1


def test_the_purge_runs_every_day():
    entry = next(
        e
        for e in settings.CELERY_BEAT_SCHEDULE.values()
        if e["task"] == "notes.tasks.purge_expired_shares"
    )
    assert entry["schedule"] == 24 * 3600


@pytest.mark.parametrize("mangle", [lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"), str.upper])
def test_a_tampered_or_unknown_token_answers_404(client, mangle):
    token, payload = create_share(client)
    bad = mangle(token)
    page = client.get(f"/notes/s/{bad}/")
    assert page.status_code == 404
    assert "This link has expired or does not exist" in page.content.decode()
    assert page["X-Robots-Tag"] == "noindex, nofollow"
    assert open_share(client, bad, payload["verifier"]).status_code == 404
    assert client.get("/notes/s/short/").status_code == 404


def test_the_share_page_works_in_french(client):
    token, _ = create_share(client)
    response = client.get(f"/notes/s/{token}/", HTTP_ACCEPT_LANGUAGE="fr")
    assert '<html lang="fr">' in response.content.decode()


def test_deleting_a_trial_deletes_its_shares(client):
    create_share(client)
    Trial.objects.filter(nct_id=NCT).delete()
    assert not SharedNotes.objects.exists()


# --- JSON that would exhaust the parser -----------------------------------------------------

DEEP_SHARES = [
    "[" * 40_000 + "]" * 40_000,
    '{"a":' * 12_000 + "1" + "}" * 12_000,
    '{"nct_id": "NCT05738187", "ciphertext": ' + "[" * 30_000 + "]" * 30_000 + "}",
]


@pytest.mark.parametrize("body", DEEP_SHARES, ids=["arrays", "objects", "in-a-field"])
def test_deeply_nested_json_is_refused_with_a_message_and_nothing_stored(body):
    client = Client(raise_request_exception=False)
    response = post_json(client, "/notes/share/", body)
    assert response.status_code == 400
    assert response.json()["error"]
    assert not SharedNotes.objects.exists()


@pytest.mark.parametrize("body", ["[" * 1020, '{"verifier": ' + "[" * 1000 + "]" * 5 + "}"])
def test_deeply_nested_json_is_refused_when_opening_without_counting(client, body):
    token, _ = create_share(client)
    response = post_json(Client(raise_request_exception=False), f"/notes/s/{token}/open", body)
    assert response.status_code == 400
    assert response.json()["error"]
    assert SharedNotes.objects.get().failed_attempts_total == 0
