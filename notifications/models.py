"""Outgoing email (the outbox) and alerts: subscribers, their subscriptions, and what each
subscription was already told."""

import hashlib
import secrets

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
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


# --- alerts --------------------------------------------------------------------------------------


def new_link_key() -> str:
    return secrets.token_urlsafe(16)


class Subscriber(models.Model):
    """An email address that asked for alerts. No account: every email carries signed links
    back to the subscriber's alerts. "Delete all" deletes this row and with it the address."""

    email = models.EmailField(max_length=254, unique=True)  # stored lower-case
    language = models.CharField(max_length=10, default="en")
    # In every management link, next to the id: a link cannot be forged from SECRET_KEY alone,
    # and a new key ("make my old links stop working") voids every link sent so far.
    link_key = models.CharField(max_length=32, default=new_link_key, editable=False)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"subscriber #{self.pk}"


class TsQueryField(models.TextField):
    """A PostgreSQL tsquery column: parsed once when saved, not for each of 100,000 matches."""

    def db_type(self, connection):
        return "tsquery"


class Frequency(models.TextChoices):
    IMMEDIATE = "immediate", _("As they happen")
    DAILY = "daily", _("Daily")
    WEEKLY = "weekly", _("Weekly")


class SubscriptionStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for confirmation")
    ACTIVE = "active", _("Active")
    PAUSED = "paused", _("Paused")


class Subscription(models.Model):
    """A saved search (new matching trials) or a watched trial (its changes).

    A saved search keeps its parameters twice: `query` (the GET pairs, to show it and to link
    back to the search page) and compiled columns read by trials.search.filter_sql, so that all
    subscriptions are matched against new trials in one set-based query with the site's exact
    semantics. NULL in a compiled column means "no filter".
    """

    class Kind(models.TextChoices):
        SEARCH = "search", _("New trials for a search")
        TRIAL = "trial", _("Changes to a trial")

    subscriber = models.ForeignKey(
        Subscriber, on_delete=models.CASCADE, related_name="subscriptions"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    trial = models.ForeignKey(
        "trials.Trial", on_delete=models.CASCADE, null=True, blank=True, related_name="watchers"
    )
    query = models.JSONField(default=list, blank=True)  # [[name, value], ...] as in the URL
    # Same search, same subscriber → same key: subscribing twice does not duplicate.
    query_key = models.CharField(max_length=64)
    frequency = models.CharField(max_length=10, choices=Frequency.choices, default=Frequency.DAILY)
    status = models.CharField(
        max_length=10, choices=SubscriptionStatus.choices, default=SubscriptionStatus.PENDING
    )
    paused_reason = models.CharField(max_length=20, blank=True)  # user / bounce / complaint
    created_at = models.DateTimeField(default=timezone.now)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    # Versions of trials already matched up to here are not matched again.
    matched_from_version = models.BigIntegerField(default=0)

    # --- compiled search (see trials.search.FILTER_TEMPLATES) ---
    # The language the words were understood in (trials.query.understand): the page's.
    language = models.CharField(max_length=8, default="en")
    tsquery = TsQueryField(null=True, blank=True)
    # Trials the patient named by NCT id: they match whatever the words say.
    nct_ids = ArrayField(models.CharField(max_length=11), null=True, blank=True)
    statuses = ArrayField(models.CharField(max_length=32), null=True, blank=True)
    phases = ArrayField(models.CharField(max_length=12), null=True, blank=True)
    study_types = ArrayField(models.CharField(max_length=16), null=True, blank=True)
    sex = models.CharField(max_length=6, null=True, blank=True)  # noqa: DJ001 - NULL = any
    healthy_volunteers = models.BooleanField(null=True, blank=True)
    countries = ArrayField(models.CharField(max_length=2), null=True, blank=True)
    conditions = ArrayField(models.TextField(), null=True, blank=True)
    age_days = models.IntegerField(null=True, blank=True)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    radius_km = models.FloatField(null=True, blank=True)
    place_label = models.CharField(max_length=200, blank=True)
    # Lexemes of which a matching trial must contain at least one (prefilter for matching).
    lexemes = ArrayField(models.TextField(), null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscriber", "kind", "query_key"], name="subscription_unique_query"
            ),
        ]
        indexes = [
            # Matching reads only active saved searches / watched trials.
            models.Index(
                fields=["kind", "trial"],
                name="subscription_active_idx",
                condition=models.Q(status="active"),
            ),
            # Prefilter: saved searches sharing a lexeme with a new trial.
            GinIndex(fields=["lexemes"], name="subscription_lexemes_gin"),
        ]

    def __str__(self):
        return f"{self.kind} subscription #{self.pk}"

    @staticmethod
    def key_for(kind: str, query: list, trial_id: int | None, language: str = "en") -> str:
        # The same words in another language are another search (English keys are unchanged).
        pairs = [*query, ("lang", language)] if language != "en" else query
        raw = f"{kind}|{trial_id}|" + "&".join(f"{k}={v}" for k, v in sorted(pairs))
        return hashlib.sha256(raw.encode()).hexdigest()


class AlertMatch(models.Model):
    """A trial a subscription must hear about, then has heard about (sent_at).

    Unique per (subscription, trial) for new trials and per (subscription, version) for
    changes: whatever the number of imports, retries or matching runs, nothing is announced
    twice to the same subscription.
    """

    class Kind(models.TextChoices):
        NEW = "new", _("New trial")
        CHANGE = "change", _("Trial changed")

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="matches")
    trial = models.ForeignKey("trials.Trial", on_delete=models.CASCADE, related_name="+")
    version = models.ForeignKey(
        "trials.TrialVersion", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    email = models.ForeignKey(OutgoingEmail, on_delete=models.SET_NULL, null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "trial"],
                condition=models.Q(kind="new"),
                name="match_new_once",
            ),
            models.UniqueConstraint(
                fields=["subscription", "version"],
                condition=models.Q(kind="change"),
                name="match_change_once",
            ),
        ]
        indexes = [
            # The digests: unsent matches, by subscription.
            models.Index(
                fields=["subscription", "created_at"],
                name="match_unsent_idx",
                condition=models.Q(sent_at__isnull=True),
            ),
        ]

    def __str__(self):
        return f"{self.kind} match #{self.pk}"


class MatchCursor(models.Model):
    """How far alert matching has read the trial versions (one row, name "alerts")."""

    name = models.CharField(max_length=50, unique=True)
    last_version_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"{self.name} @ {self.last_version_id}"
