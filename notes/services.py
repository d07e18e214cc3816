"""Sharing private notes through a passcode-protected link.

The server keeps no note (notes/cookies.py: without JavaScript they live in a cookie). A shared
link holds the notes encrypted in the browser:

    master   = PBKDF2-SHA-256(passcode, salt (16 random bytes), iterations >= 600,000, 32 bytes)
    key      = HKDF-SHA-256(master, info="trialfinder notes v1 key")       AES-256-GCM key
    verifier = HKDF-SHA-256(master, info="trialfinder notes v1 verifier")  sent to the server

The server stores the ciphertext, IV, salt, iterations and sha256(verifier), and releases the
ciphertext only to whoever sends the verifier: a few wrong ones lock the link, many disable it.
"""

import base64
import binascii
import datetime
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from notes.models import SharedNotes

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
