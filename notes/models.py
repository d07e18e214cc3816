"""Shared notes: the only thing about private notes the server stores (notes/services.py)."""

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class SharedNotes(models.Model):
    """A patient's notes on one trial, encrypted, behind a link and a passcode.

    Neither the link nor the passcode is stored: a database dump gives no working link, and
    the ciphertext can only be attacked by guessing passcodes at the cost of PBKDF2.
    """

    # sha256 of the link's token (secrets.token_urlsafe(32)): the link is looked up by it.
    token_hash = models.CharField(max_length=64, unique=True)
    trial = models.ForeignKey("trials.Trial", on_delete=models.CASCADE, related_name="+")

    # AES-256-GCM output (with its tag), the IV, and the PBKDF2 parameters the browser used.
    # Emptied when the link is disabled, so that it can never be released again.
    ciphertext = models.BinaryField()
    iv = models.BinaryField()
    salt = models.BinaryField()
    iterations = models.PositiveIntegerField()
    # sha256 of the 256-bit verifier the browser derives from the passcode (a separate HKDF
    # output from the AES key: the verifier tells nothing about the key).
    verifier_hash = models.CharField(max_length=64)

    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    # Wrong passcodes: every one counts towards disabling the link; the recent ones (within
    # the lock window) decide when it locks.
    failed_attempts_total = models.PositiveIntegerField(default=0)
    recent_failures = ArrayField(models.DateTimeField(), default=list, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # The table keeps the name it had in `patients` (notes/migrations/0001 moved the model
        # without touching the database).
        db_table = "patients_sharednotes"
        indexes = [
            # The daily purge: DELETE ... WHERE expires_at <= now.
            models.Index(fields=["expires_at"], name="sharednotes_expires_idx"),
        ]
        verbose_name = _("shared notes")
        verbose_name_plural = _("shared notes")

    def __str__(self):
        return f"shared notes #{self.pk} (expires {self.expires_at:%Y-%m-%d})"

    @property
    def is_disabled(self) -> bool:
        return self.disabled_at is not None
