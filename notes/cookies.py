"""Private notes kept without JavaScript: in a cookie scoped to the trial page.

The server reads the cookie to render the page and never stores it; with JavaScript, notes.js
moves the notes into localStorage and clears the cookie.
"""

import base64
import binascii
import contextlib
import datetime
import json
import re
import secrets

from django.utils import timezone

from config.jsonbody import nesting_depth
from notes.services import MAX_NOTE_CHARS, MAX_NOTES, MAX_QUOTE_CHARS

COOKIE_MAX_BYTES = 3500  # browsers keep at least 4,096 bytes per cookie, name and flags included
COOKIE_MAX_AGE = 365 * 24 * 3600
_NOTE_ID_RE = re.compile(r"^[0-9a-f]{8,32}$")
_NOTE_KEYS = ("quote", "prefix", "suffix", "section", "created", "updated")


def cookie_name(nct_id: str) -> str:
    return f"tf_notes_{nct_id}"


def encode_cookie_notes(notes: list[dict]) -> str:
    """Notes → the cookie's value: base64url of compact JSON (cookie-safe, read by notes.js)."""
    data = json.dumps(notes, ensure_ascii=False, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def read_cookie_notes(request, nct_id: str) -> list[dict]:
    """The notes of the trial's cookie; malformed cookies and notes are ignored."""
    raw = request.COOKIES.get(cookie_name(nct_id), "")
    if not raw or len(raw) > 4096:
        return []
    try:
        decoded = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
        # A list of flat objects; deeper nesting is not ours (and would exhaust the parser).
        if nesting_depth(decoded) > 3:
            return []
        data = json.loads(decoded)
    except (binascii.Error, ValueError):
        return []
    if not isinstance(data, list):
        return []
    notes = []
    for item in data[:MAX_NOTES]:
        if not isinstance(item, dict):
            continue
        note_id, text = item.get("id"), item.get("text")
        if not isinstance(note_id, str) or not _NOTE_ID_RE.match(note_id):
            continue
        if not isinstance(text, str) or not text.strip():
            continue
        note = {"id": note_id, "text": text[:MAX_NOTE_CHARS]}
        for key in _NOTE_KEYS:
            value = item.get(key)
            if isinstance(value, str) and value:
                note[key] = value[:MAX_QUOTE_CHARS]
        notes.append(note)
    return notes


def now_iso() -> str:
    return timezone.now().isoformat(timespec="seconds")


def new_note(*, text: str, quote: str = "") -> dict:
    now = now_iso()
    note = {"id": secrets.token_hex(8), "text": text, "created": now, "updated": now}
    if quote:
        note["quote"] = quote
    return note


def cookie_fits(notes: list[dict]) -> bool:
    return len(encode_cookie_notes(notes)) <= COOKIE_MAX_BYTES


def set_notes_cookie(response, request, nct_id: str, path: str, notes: list[dict]) -> None:
    """Keep the notes in the browser; the cookie goes only to this trial's pages."""
    name = cookie_name(nct_id)
    if not notes:
        response.delete_cookie(name, path=path, samesite="Lax")
        return
    response.set_cookie(
        name,
        encode_cookie_notes(notes),
        max_age=COOKIE_MAX_AGE,
        path=path,
        secure=request.is_secure(),
        httponly=False,  # notes.js moves these notes into localStorage and clears the cookie
        samesite="Lax",
    )


def note_dates(note: dict) -> dict:
    """The note with datetimes instead of ISO strings, for templates."""
    shown = dict(note)
    for key in ("created", "updated"):
        shown[key] = None
        with contextlib.suppress(TypeError, ValueError):
            shown[key] = datetime.datetime.fromisoformat(note.get(key, ""))
    return shown
