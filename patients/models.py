"""Patients' inquiries to study sites, their timeline, pre-screening questions, and the
coordinators who handle each site.

An inquiry holds health data: it is addressed by `public_id` (a UUID) in anything a patient sees,
shown only to the coordinators of its site, never logged, and erased when the patient withdraws
or when the retention period after it closed is over (the row stays, anonymous, for statistics).
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from trials.models import Site, Trial


class InquiryStatus(models.TextChoices):
    NEW = "new", pgettext_lazy("inquiry status", "New")
    CONTACTED = "contacted", _("Contacted")
    PRESCREENING = "prescreening", _("Pre-screening")
    REFERRED = "referred", _("Referred to screening visit")
    ENROLLED = "enrolled", _("Enrolled")
    NOT_ELIGIBLE = "not_eligible", _("Not eligible")
    DECLINED = "declined", _("Patient declined")
    UNREACHABLE = "unreachable", _("Unreachable")
    WITHDRAWN = "withdrawn", _("Withdrawn by the patient")


# The path an inquiry normally takes; a coordinator moves it forward along it, or closes it.
OPEN_STATUSES = (
    InquiryStatus.NEW,
    InquiryStatus.CONTACTED,
    InquiryStatus.PRESCREENING,
    InquiryStatus.REFERRED,
)
CLOSED_STATUSES = (
    InquiryStatus.ENROLLED,
    InquiryStatus.NOT_ELIGIBLE,
    InquiryStatus.DECLINED,
    InquiryStatus.UNREACHABLE,
    InquiryStatus.WITHDRAWN,
)


def allowed_transitions(current: str) -> list[str]:
    """Where a coordinator may move an inquiry from `current`.

    Forward along the open path, or to a closing status (enrolled only after the screening
    visit). A closed inquiry may be reopened (mistakes happen; the timeline keeps both moves),
    except a withdrawn one: the patient withdrew and their data is gone. Nobody sets "new" or
    "withdrawn" by hand: the patient does, through the form and the withdraw link.
    """
    if current == InquiryStatus.WITHDRAWN:
        return []
    if current in OPEN_STATUSES:
        later: list[str] = list(OPEN_STATUSES[OPEN_STATUSES.index(current) + 1 :])
        closing: list[str] = [
            InquiryStatus.NOT_ELIGIBLE,
            InquiryStatus.DECLINED,
            InquiryStatus.UNREACHABLE,
        ]
        if current == InquiryStatus.REFERRED:
            closing.insert(0, InquiryStatus.ENROLLED)
        return later + closing
    return [s for s in OPEN_STATUSES if s != InquiryStatus.NEW]


class RoutedTo(models.TextChoices):
    SITE_CONTACT = "site", _("Site contact")
    CENTRAL_CONTACT = "central", _("Trial's central contact")
    TRIAGE = "triage", _("TrialFinder triage")


class PreferredLanguage(models.TextChoices):
    """The interface languages, plus "other" (named in `other_language`)."""

    EN = "en", "English"
    FR = "fr", "Français"
    IT = "it", "Italiano"
    OTHER = "other", _("Other language")


class SiteCoordinator(models.Model):
    """A staff user who handles the inquiries of a site. A site may have several coordinators,
    and a coordinator several sites, across trials."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="coordinated_sites"
    )
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="coordinators")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "site"], name="sitecoordinator_unique"),
        ]
        verbose_name = _("site coordinator")
        verbose_name_plural = _("site coordinators")

    def __str__(self):
        return f"{self.user} — {self.site}"


class PrescreenQuestion(models.Model):
    """A yes/no question staff add to a trial's optional pre-screening. The answer never
    refuses anyone: it only tells the patient whether they may be eligible."""

    trial = models.ForeignKey(Trial, on_delete=models.CASCADE, related_name="prescreen_questions")
    text = models.CharField(_("question"), max_length=300)
    # The question in the other languages, so that a patient reads it (and its answer in their
    # emails) in theirs; empty: `text` is shown as written.
    text_fr = models.CharField(_("question in French"), max_length=300, blank=True)
    text_it = models.CharField(_("question in Italian"), max_length=300, blank=True)
    eligible_answer = models.BooleanField(
        _("answer that suggests eligibility"),
        default=True,
        help_text=_("Ticked: “yes” suggests the patient may be eligible. Unticked: “no” does."),
    )
    position = models.PositiveSmallIntegerField(_("order"), default=0)
    active = models.BooleanField(_("asked"), default=True)

    class Meta:
        ordering = ["trial", "position", "id"]
        verbose_name = _("pre-screening question")
        verbose_name_plural = _("pre-screening questions")

    def __str__(self):
        return self.text

    @property
    def texts(self) -> dict[str, str]:
        """{language: the question in it} for the languages it was written in."""
        translated = {"fr": self.text_fr, "it": self.text_it}
        return {settings.LANGUAGE_CODE: self.text, **{k: v for k, v in translated.items() if v}}


def coordinated_sites(user) -> models.QuerySet[Site]:
    """The sites `user` speaks for: every site for a superuser, else the sites they coordinate.
    The one rule behind what a coordinator may see in the admin (inquiries, questions, sites,
    figures): Inquiry.objects.for_coordinator and the admins build on it."""
    if user.is_superuser:
        return Site.objects.all()
    return Site.objects.filter(
        pk__in=SiteCoordinator.objects.filter(user_id=user.pk).values("site_id")
    )


class InquiryQuerySet(models.QuerySet):
    def for_coordinator(self, user):
        """The inquiries `user` may see: all for a superuser, else those of their sites."""
        if user.is_superuser:
            return self
        return self.filter(site__in=coordinated_sites(user))

    def open(self):
        return self.filter(status__in=OPEN_STATUSES)


class Inquiry(models.Model):
    """A patient's message to a study site, and how the site handled it."""

    # The only identifier a patient ever sees (in links); the sequential id is for staff.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    trial = models.ForeignKey(Trial, on_delete=models.PROTECT, related_name="inquiries")
    # Sites are never deleted by the importer (they get removed_at): PROTECT keeps it that way.
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="inquiries")

    # --- The patient (erased on withdrawal and after retention) --------------------------------
    first_name = models.CharField(_("first name"), max_length=100)
    last_name = models.CharField(_("last name"), max_length=100)
    email = models.EmailField(_("email"), max_length=254)
    phone = models.CharField(_("phone number"), max_length=20)  # E.164
    preferred_language = models.CharField(
        _("preferred language"), max_length=5, choices=PreferredLanguage.choices
    )
    other_language = models.CharField(_("other language"), max_length=100, blank=True)
    message = models.TextField(_("message"), max_length=5000, blank=True)
    # {"age": 54, "sex": "FEMALE", "result": "may_be_eligible" | "may_not_be_eligible" | "",
    #  "answers": [{"kind": "age"|"sex"|"question", "question": ..., "answer": ...,
    #               "suggests_eligible": true|false|null}]}: a snapshot, so that later edits of
    # the questions do not change what the patient answered.
    prescreen = models.JSONField(_("pre-screening"), default=dict, blank=True)
    # The interface language the patient used: their emails are written in it (or in their
    # preferred language when it is one of ours).
    language = models.CharField(max_length=10, default="en")
    # The place the patient searched near ("Strasbourg", "67000", "48.58,7.75"), as typed:
    # other trials are looked for near it if this one rules them out (patients.alternatives).
    near = models.CharField(_("place searched near"), max_length=200, blank=True)

    # --- Consent, verbatim as shown --------------------------------------------------------------
    consent_text = models.TextField(_("consent text"))
    consent_version = models.CharField(_("consent version"), max_length=20)
    consented_at = models.DateTimeField(_("consented at"), default=timezone.now)

    # --- Routing decision ----------------------------------------------------------------------
    routed_to = models.CharField(_("routed to"), max_length=10, choices=RoutedTo.choices)
    routed_email = models.EmailField(_("routed to address"), max_length=254)

    # --- Workflow --------------------------------------------------------------------------------
    status = models.CharField(
        _("status"), max_length=15, choices=InquiryStatus.choices, default=InquiryStatus.NEW
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_inquiries",
        verbose_name=_("assigned to"),
    )
    created_at = models.DateTimeField(_("submitted"), default=timezone.now, editable=False)
    # When a coordinator first moved it out of "new": the response time the sites are judged by.
    first_contacted_at = models.DateTimeField(_("first contacted"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    erased_at = models.DateTimeField(_("personal data erased"), null=True, blank=True)
    # Still "new" after the site's response deadline: the site's other coordinators are told
    # (1), then the TrialFinder team (2). See patients.escalation.
    escalation_level = models.PositiveSmallIntegerField(
        _("escalation"),
        default=0,
        choices=[(0, _("None")), (1, _("Coordinators told")), (2, _("TrialFinder team told"))],
    )
    escalated_at = models.DateTimeField(_("escalated"), null=True, blank=True)

    objects = InquiryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # A coordinator's list: their sites' inquiries, newest first, often by status.
            models.Index(fields=["site", "status", "-created_at"], name="inquiry_site_status_idx"),
            # The retention task: closed inquiries whose data is still there.
            models.Index(
                fields=["closed_at"],
                name="inquiry_erasable_idx",
                condition=models.Q(erased_at__isnull=True, closed_at__isnull=False),
            ),
            # The hourly escalation: inquiries still "new", by age (a small, shrinking set).
            models.Index(
                fields=["created_at"],
                name="inquiry_unanswered_idx",
                condition=models.Q(status="new", escalation_level__lt=2),
            ),
        ]
        verbose_name = _("inquiry")
        verbose_name_plural = _("inquiries")

    def __str__(self):
        return _("Inquiry #%(id)s") % {"id": self.pk}

    @property
    def erase_key(self) -> str:
        """Tags every outgoing email that carries this patient's data (see inquiry_erase)."""
        return f"inquiry:{self.public_id}"

    @property
    def is_closed(self) -> bool:
        return self.status in CLOSED_STATUSES

    @property
    def is_erased(self) -> bool:
        return self.erased_at is not None

    @property
    def patient_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def email_language(self) -> str:
        """The language the patient reads their emails in."""
        codes = [code for code, _name in settings.LANGUAGES]
        if self.preferred_language in codes:
            return self.preferred_language
        return self.language if self.language in codes else settings.LANGUAGE_CODE


class EventKind(models.TextChoices):
    SUBMITTED = "submitted", _("Submitted")
    STATUS_CHANGE = "status_change", _("Status change")
    NOTE = "note", _("Internal note")
    REPLY = "reply", _("Reply to the patient")
    ASSIGNMENT = "assignment", _("Assignment")
    EMAIL = "email", _("Email")
    WITHDRAWN = "withdrawn", _("Withdrawn by the patient")
    ERASED = "erased", _("Personal data erased")
    # No answer by the site's deadline: its other coordinators were reminded, then (a working
    # day later, or at once when there is no other coordinator) the TrialFinder team was told.
    REMINDED = "reminded", _("Reminder to the site's coordinators")
    ESCALATED = "escalated", _("Escalated to the TrialFinder team")


class InquiryEvent(models.Model):
    """One line of an inquiry's timeline: who did what, when. Append-only."""

    inquiry = models.ForeignKey(Inquiry, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=15, choices=EventKind.choices)
    # Null for what the patient or the system did.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    from_status = models.CharField(max_length=15, choices=InquiryStatus.choices, blank=True)
    to_status = models.CharField(max_length=15, choices=InquiryStatus.choices, blank=True)
    # Notes and replies (erased with the patient's data: they may quote it).
    text = models.TextField(blank=True)
    email = models.ForeignKey(
        "notifications.OutgoingEmail",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # The form post that made this event (a random key the form carries): the same post sent
    # again (a retry after a database restart, a double click, "Try again" on the 503 page)
    # finds it and changes nothing. Unique: two concurrent copies cannot both be written.
    submission_key = models.UUIDField(null=True, blank=True, unique=True, editable=False)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            # The change page's timeline: one inquiry's events in order.
            models.Index(fields=["inquiry", "created_at"], name="inquiryevent_timeline_idx"),
        ]
        verbose_name = _("inquiry event")
        verbose_name_plural = _("inquiry events")

    def __str__(self):
        return f"{self.get_kind_display()} #{self.pk}"


# Statuses a coordinator moves an inquiry to that may send the patient an email (StatusEmail).
PATIENT_EMAIL_STATUSES = (
    InquiryStatus.CONTACTED,
    InquiryStatus.PRESCREENING,
    InquiryStatus.REFERRED,
    InquiryStatus.ENROLLED,
    InquiryStatus.NOT_ELIGIBLE,
    InquiryStatus.DECLINED,
    InquiryStatus.UNREACHABLE,
)
# The placeholders staff may use in a StatusEmail's subject and body (nothing else is
# replaced: the text is never rendered as a template).
STATUS_EMAIL_PLACEHOLDERS = {
    "first_name": _("the patient's first name"),
    "site": _("the study site"),
    "trial": _("the trial's title"),
    "nct_id": _("the trial's NCT number"),
}


class StatusEmail(models.Model):
    """The short email a patient gets when a coordinator moves their inquiry to `status`,
    in one language. Staff edit the text and turn it on or off in the admin."""

    status = models.CharField(
        _("status"),
        max_length=15,
        choices=[(s.value, s.label) for s in PATIENT_EMAIL_STATUSES],
    )
    language = models.CharField(_("language"), max_length=5, choices=settings.LANGUAGES)
    enabled = models.BooleanField(
        _("sent"), default=True, help_text=_("Unticked: patients get no email for this status.")
    )
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(
        _("text"),
        max_length=5000,
        help_text=_(
            "Plain text. You may use {first_name}, {site}, {trial} and {nct_id}. The links to "
            "the patient's status page and to withdraw are added below it."
        ),
    )
    updated_at = models.DateTimeField(_("last changed"), auto_now=True)

    class Meta:
        ordering = ["status", "language"]
        constraints = [
            # inquiry_change_status reads the one text for (status, language).
            models.UniqueConstraint(fields=["status", "language"], name="statusemail_unique"),
        ]
        verbose_name = _("status email to patients")
        verbose_name_plural = _("status emails to patients")

    def __str__(self):
        return f"{self.get_status_display()} ({self.language})"


class SiteConfirmation(models.Model):
    """Each time a coordinator said whether a site recruits (append-only): the site keeps
    only the latest, this keeps who said what, when, and from where."""

    class Via(models.TextChoices):
        ADMIN = "admin", _("Admin")
        EMAIL = "email", _("Monthly email")

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="confirmations")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    status = models.CharField(max_length=10)  # trials.models.CoordinatorStatus
    previous_status = models.CharField(max_length=10, blank=True)
    via = models.CharField(max_length=5, choices=Via.choices)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("site status confirmation")
        verbose_name_plural = _("site status confirmations")

    def __str__(self):
        return f"{self.site} — {self.status} ({self.created_at:%Y-%m-%d})"


class CoordinatedSite(Site):
    """The sites a coordinator handles, in the admin ("My sites"): confirm recruitment and set
    the response deadline. A proxy, so that its permissions are the coordinators' own."""

    class Meta:
        proxy = True
        verbose_name = _("my site")
        verbose_name_plural = _("my sites")


class StaffProfile(models.Model):
    """A staff member's own settings. Their emails are written in `email_language`, whatever
    the country of the sites they coordinate (patients.staff.staff_language)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_profile"
    )
    email_language = models.CharField(
        _("language of my emails"),
        max_length=10,
        choices=settings.LANGUAGES,
        help_text=_("Emails TrialFinder sends you are written in this language."),
    )

    class Meta:
        verbose_name = _("my email language")
        verbose_name_plural = _("my email language")

    def __str__(self):
        return self.get_email_language_display()
