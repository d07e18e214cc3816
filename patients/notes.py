"""Private notes on a trial page, and sharing them through a passcode-protected link.

The server keeps no note. With JavaScript, notes live in the browser's localStorage; without
it, in a cookie scoped to the trial page (the server reads it to render the page, never stores
it). A shared link holds the notes encrypted in the browser:

    master   = PBKDF2-SHA-256(passcode, salt (16 random bytes), iterations >= 600,000, 32 bytes)
    key      = HKDF-SHA-256(master, info="trialfinder notes v1 key")       AES-256-GCM key
    verifier = HKDF-SHA-256(master, info="trialfinder notes v1 verifier")  sent to the server

The server stores the ciphertext, IV, salt, iterations and sha256(verifier), and releases the
ciphertext only to whoever sends the verifier: a few wrong ones lock the link, many disable it.
"""

import base64
import binascii
import contextlib
import datetime
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from config.jsonbody import nesting_depth
from patients.models import SharedNotes

# --- limits (the browser enforces the same ones before uploading: see _notes_panel.html) ----
MAX_NOTES = 100
MAX_NOTE_CHARS = 2000
MAX_QUOTE_CHARS = 500
MAX_CIPHERTEXT_BYTES = 64 * 1024
# OWASP's figure for PBKDF2-SHA-256 (2023). The ceiling stops a link that would hang the
# recipient's browser.
PBKDF2_ITERATIONS = 600_000
MAX_ITERATIONS = 5_000_000
SALT_BYTES = 16
IV_BYTES = 12
VERIFIER_BYTES = 32
EXPIRY_DAYS = (1, 3, 7, 14, 30)  # offered in the form; any whole number in 1..30 is accepted
MIN_EXPIRY_DAYS, MAX_EXPIRY_DAYS = 1, 30
MIN_PASSCODE_CHARS = 8

# Wrong passcodes: at most LOCK_AFTER per LOCK_WINDOW per link; DISABLE_AFTER in all.
LOCK_AFTER = 5
LOCK_WINDOW = datetime.timedelta(minutes=15)
DISABLE_AFTER = 100

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # secrets.token_urlsafe(32): 256 bits


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hash_verifier(verifier: bytes) -> str:
    # sha256 is enough: the verifier is already a 256-bit key-derivation output.
    return hashlib.sha256(verifier).hexdigest()


# --- sharing --------------------------------------------------------------------------------


def notes_share_create(
    *,
    trial,
    ciphertext: bytes,
    iv: bytes,
    salt: bytes,
    iterations: int,
    verifier: bytes,
    expires_days: int,
) -> tuple[SharedNotes, str]:
    """Store an encrypted share; return it with its token (the only time the token exists)."""
    token = secrets.token_urlsafe(32)
    share = SharedNotes.objects.create(
        token_hash=hash_token(token),
        trial=trial,
        ciphertext=ciphertext,
        iv=iv,
        salt=salt,
        iterations=iterations,
        verifier_hash=hash_verifier(verifier),
        expires_at=timezone.now() + datetime.timedelta(days=expires_days),
    )
    return share, token


def find_share(token: str) -> SharedNotes | None:
    """The live (unexpired) share behind a link's token, or None."""
    if not TOKEN_RE.match(token or ""):
        return None
    return (
        SharedNotes.objects.select_related("trial")
        .filter(token_hash=hash_token(token), expires_at__gt=timezone.now())
        .first()
    )


@dataclass(frozen=True)
class Opening:
    outcome: str  # "open", "wrong", "locked", "disabled", "gone"
    share: SharedNotes | None = None
    remaining: int = 0  # wrong passcodes left before the link locks
    retry_after: int = 0  # seconds, when locked


def notes_share_open(*, share_id: int, verifier: bytes) -> Opening:
    """Check a verifier against a share, counting wrong ones.

    1. Lock the row: parallel guesses must not slip past the limits.
    2. Refuse without comparing when the link is expired, disabled or locked.
    3. Compare in constant time; on a miss, count it, and lock (5 in 15 minutes) or
       disable (100 in all, erasing the ciphertext) the link.
    """
    now = timezone.now()
    with transaction.atomic():
        share = (
            SharedNotes.objects.select_for_update().filter(pk=share_id, expires_at__gt=now).first()
        )
        if share is None:
            return Opening("gone")
        if share.is_disabled:
            return Opening("disabled", share)
        if share.locked_until and share.locked_until > now:
            return Opening("locked", share, retry_after=_seconds_until(share.locked_until, now))

        if hmac.compare_digest(hash_verifier(verifier), share.verifier_hash):
            return Opening("open", share)

        share.failed_attempts_total += 1
        recent = [t for t in share.recent_failures if t > now - LOCK_WINDOW] + [now]
        if share.failed_attempts_total >= DISABLE_AFTER:
            share.disabled_at = now
            share.ciphertext = b""
            share.recent_failures = []
            share.locked_until = None
            outcome = Opening("disabled", share)
        elif len(recent) >= LOCK_AFTER:
            share.locked_until = now + LOCK_WINDOW
            share.recent_failures = []
            outcome = Opening("locked", share, retry_after=int(LOCK_WINDOW.total_seconds()))
        else:
            share.recent_failures = recent
            outcome = Opening("wrong", share, remaining=LOCK_AFTER - len(recent))
        share.save(
            update_fields=[
                "failed_attempts_total",
                "recent_failures",
                "locked_until",
                "disabled_at",
                "ciphertext",
            ]
        )
        return outcome


def _seconds_until(moment: datetime.datetime, now: datetime.datetime) -> int:
    return max(1, int((moment - now).total_seconds() + 0.999))


def purge_expired_shares() -> int:
    """Delete every expired share (one DELETE: nothing references them)."""
    deleted, _ = SharedNotes.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted


def b64decode_exact(value, *, min_bytes: int = 1, max_bytes: int) -> bytes | None:
    """Standard base64 (as the browser's btoa writes it) → bytes, or None when malformed."""
    if not isinstance(value, str) or len(value) > (max_bytes + 2) // 3 * 4:
        return None
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if min_bytes <= len(raw) <= max_bytes else None


# --- notes kept in a cookie (without JavaScript) -------------------------------------------

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
