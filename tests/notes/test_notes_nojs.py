"""Private notes without JavaScript: the "My notes" form keeps notes in a cookie of the trial's
pages. The server renders them and stores nothing."""

import base64
import json

import pytest

from notes.models import SharedNotes
from tests.notes.helpers import database_rows_containing

pytestmark = pytest.mark.django_db

NCT = "NCT05738187"
PAGE = f"/trials/{NCT}/"
COOKIE = f"tf_notes_{NCT}"


def cookie_notes(client) -> list[dict]:
    value = client.cookies[COOKIE].value
    return json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))


def add_note(client, text, quote="", **extra):
    return client.post(f"{PAGE}notes/", {"text": text, "quote": quote}, **extra)


def test_a_note_goes_to_a_cookie_of_the_trial_page_and_nowhere_else(client):
    response = add_note(
        client,
        "Ask Dr Martin whether the zebrafish protocol applies",
        quote="Contraindication  to\nre-irradiation",
    )
    assert response.status_code == 302
    assert response["Location"] == f"{PAGE}#my-notes"
    cookie = response.cookies[COOKIE]
    assert cookie["path"] == PAGE
    assert cookie["samesite"] == "Lax"
    assert not cookie["httponly"]  # notes.js moves the notes to localStorage
    assert not cookie["secure"]  # plain HTTP here; see the HTTPS test
    assert int(cookie["max-age"]) >= 300 * 24 * 3600
    [note] = cookie_notes(client)
    assert note["text"] == "Ask Dr Martin whether the zebrafish protocol applies"
    assert note["quote"] == "Contraindication to re-irradiation"

    assert not SharedNotes.objects.exists()
    assert database_rows_containing("zebrafish") == []


def test_the_cookie_is_secure_over_https(client):
    response = add_note(client, "A question", secure=True)
    assert response.cookies[COOKIE]["secure"]


def test_the_trial_page_lists_the_notes_of_its_cookie_escaped(client):
    add_note(client, "<script>alert(1)</script> Ask about travel costs", quote="Strasbourg")
    response = client.get(PAGE)
    # One browser's notes must never be served to another from a shared cache.
    assert "Cookie" in response["Vary"]
    html = response.content.decode()
    assert "Ask about travel costs" in html
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert '<blockquote class="tf-note-quote small mb-1">Strasbourg</blockquote>' in html
    assert "Your note is kept in this browser." in html


def test_the_panel_explains_where_notes_stay_and_that_sharing_needs_javascript(client):
    html = client.get(PAGE).content.decode()
    assert 'id="my-notes"' in html
    assert "They stay in this browser: TrialFinder does not keep them." in html
    assert "Sharing needs JavaScript" in html
    assert "No note on this trial yet." in html
    assert f'action="{PAGE}notes/"' in html
    assert "js/notes.js" in html


def test_notes_are_edited_and_deleted_without_javascript(client):
    add_note(client, "First question")
    add_note(client, "Second question")
    first, second = cookie_notes(client)

    response = client.post(f"{PAGE}notes/{first['id']}/edit", {"text": "First question, edited"})
    assert response.status_code == 302
    edited = cookie_notes(client)
    assert [n["text"] for n in edited] == ["First question, edited", "Second question"]
    assert edited[0]["created"] == first["created"]

    client.post(f"{PAGE}notes/{second['id']}/delete")
    assert [n["text"] for n in cookie_notes(client)] == ["First question, edited"]

    response = client.post(f"{PAGE}notes/{first['id']}/delete")
    assert response.cookies[COOKIE].value == ""  # the last note gone: the cookie is deleted
    assert "No note on this trial yet." in client.get(PAGE).content.decode()


def test_the_cookie_is_capped_with_a_clear_message(client):
    text = "Is the hospital reachable by public transport from the station? " * 8
    kept = 0
    for _ in range(20):
        response = add_note(client, text)
        if response.status_code != 302:
            break
        kept += 1
    assert 2 <= kept < 20
    assert response.status_code == 413
    html = response.content.decode()
    assert "Your note could not be kept" in html
    assert "about 2,000 characters of notes per trial" in html
    assert text.strip()[:40] in html  # the note typed is still there, to shorten it
    assert COOKIE not in response.cookies  # the notes kept are unchanged
    assert len(cookie_notes(client)) == kept
    assert len(client.cookies[COOKIE].value) <= 3500


def test_an_empty_or_too_long_note_is_refused_with_a_message(client):
    response = add_note(client, "   ")
    assert response.status_code == 400
    assert "Write your note first." in response.content.decode()
    response = add_note(client, "x" * 2001)
    assert response.status_code == 400
    assert "at most 2000 characters" in response.content.decode()
    assert COOKIE not in client.cookies


@pytest.mark.parametrize("value", ["garbage", "W10", "eyJ0ZXh0IjoiYSJ9", "!!!!"])
def test_a_malformed_cookie_is_ignored(client, value):
    client.cookies[COOKIE] = value
    response = client.get(PAGE)
    assert response.status_code == 200
    assert "No note on this trial yet." in response.content.decode()


def test_an_unknown_trial_answers_404(client):
    assert client.post("/trials/NCT99999999/notes/", {"text": "x"}).status_code == 404
    assert client.post("/trials/nonsense/notes/", {"text": "x"}).status_code == 404


def test_the_note_form_accepts_only_post(client):
    assert client.get(f"{PAGE}notes/").status_code == 405


def test_a_notes_cookie_of_deeply_nested_json_is_ignored(client):
    from django.test import Client

    visitor = Client(raise_request_exception=False)
    deep = base64.urlsafe_b64encode(b"[" * 3000).decode().rstrip("=")
    visitor.cookies[COOKIE] = deep
    assert visitor.get(PAGE).status_code == 200
    assert visitor.post(f"{PAGE}notes/", {"text": "A new note"}).status_code == 302
