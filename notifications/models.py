"""Outgoing email (the outbox). Subscriptions are added by the alerts feature."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class EmailStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


class OutgoingEmail(models.Model):
    """One email, written in the same transaction as whatever caused it, sent by a worker.

    The row is the source of truth: a task only carries its id, claims it QUEUED → SENDING with a
    conditional UPDATE (so a redelivered task cannot send twice), and the sweeper re-enqueues
    rows that a lost task or a dead worker left behind.
    """

    template = models.CharField(max_length=100)  # templates/emails/<template>-*.txt|html
    language = models.CharField(max_length=10)
    to_email = models.EmailField(max_length=254)
    reply_to = models.EmailField(max_length=254, blank=True)
    subject = models.TextField()
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    headers = models.JSONField(default=dict, blank=True)
    # Stable across retries, so a receiving server can drop an exact duplicate.
    message_id = models.CharField(max_length=200, unique=True)
    # What this email is about, e.g. "inquiry:<uuid>": erasure finds and scrubs it by this key.
    erase_key = models.CharField(max_length=100, blank=True, db_index=True)

    status = models.CharField(
        max_length=10, choices=EmailStatus.choices, default=EmailStatus.QUEUED
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    # Never holds an address or message text: exception class and SMTP code only.
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    enqueued_at = models.DateTimeField(null=True, blank=True)  # last hand-over to the broker
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The sweeper: due QUEUED rows and stale SENDING rows.
            models.Index(
                fields=["status", "next_attempt_at"],
                name="outbox_pending_idx",
                condition=models.Q(status__in=["queued", "sending"]),
            ),
        ]
        verbose_name = _("outgoing email")
        verbose_name_plural = _("outgoing emails")

    def __str__(self):
        return f"{self.template} #{self.pk} ({self.status})"
