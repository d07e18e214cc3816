"""Every write on inquiries: creation (with its emails), the coordinators' workflow, replies,
withdrawal and erasure. Each runs in one transaction and records what it did in the timeline.

Patient data never reaches a log line here: log the inquiry id, nothing else.
"""

import datetime
import logging
import uuid
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from config.i18n import absolute_url
from notifications.emails import queue_email
from notifications.models import EmailStatus, OutgoingEmail
from patients.models import (
    CLOSED_STATUSES,
    EventKind,
    Inquiry,
    InquiryEvent,
    InquiryStatus,
    RoutedTo,
    allowed_transitions,
    coordinated_sites,
)
from patients.staff import address_language
from trials.models import Contact, ContactRole, Site, Trial

log = logging.getLogger(__name__)

T = TypeVar("T")
# Who acts: a staff user (the admin), or None for the system (escalation, erasure).
Actor = Any

# Sites read their email in the language of their country when we know it; else English.
# Kept deliberately small: only the portal's own languages, only where they are the obvious one.
SITE_LANGUAGES = {"FR": "fr", "IT": "it", "MC": "fr", "SM": "it"}
# Site contacts first by role: the registry's "contact" is who answers patients.
ROLE_PREFERENCE: list[str] = [ContactRole.CONTACT, ContactRole.PRINCIPAL_INVESTIGATOR]
WITHDRAW_SALT = "patients.withdraw"
# A withdraw link works for three years: longer than any inquiry stays open in practice.
WITHDRAW_MAX_AGE = datetime.timedelta(days=3 * 365)
# The patient's status page: its own salt (a withdraw token opens nothing else), same life.
STATUS_SALT = "patients.status"
STATUS_MAX_AGE = WITHDRAW_MAX_AGE
PERSONAL_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "other_language",
    "message",
    "near",
)


class InquiryRefused(Exception):
    """The inquiry cannot be taken (trial closed, site not recruiting or not of the trial)."""


class TransitionRefused(Exception):
    """A status change the workflow does not allow."""


# --- routing -------------------------------------------------------------------------------------


def _usable(address: str) -> bool:
    try:
        validate_email(address)
    except ValidationError:
        return False
    return True


def _first_address(contacts: Iterable[Contact]) -> str:
    ranked = sorted(
        contacts,
        key=lambda c: (
            ROLE_PREFERENCE.index(c.role) if c.role in ROLE_PREFERENCE else len(ROLE_PREFERENCE),
            c.position,
        ),
    )
    return next((c.email.strip() for c in ranked if _usable(c.email.strip())), "")


def inquiry_route(*, site: Site) -> tuple[str, str]:
    """Where an inquiry to `site` goes: (RoutedTo, address).

    The site's own contact, else the trial's central contact, else the portal's triage inbox,
    which finds a person at the site by other means.
    """
    address = _first_address(Contact.objects.filter(site=site).exclude(email=""))
    if address:
        return RoutedTo.SITE_CONTACT, address
    address = _first_address(
        Contact.objects.filter(trial_id=site.trial_id, site__isnull=True).exclude(email="")
    )
    if address:
        return RoutedTo.CENTRAL_CONTACT, address
    return RoutedTo.TRIAGE, settings.TRIAGE_EMAIL


def country_language(site: Site) -> str:
    """The language of the site's country when it is one of ours; else the default."""
    return SITE_LANGUAGES.get(site.country_code, settings.LANGUAGE_CODE)


def site_language(inquiry: Inquiry) -> str:
    """The language of emails to the team: a staff member's own when the address is theirs;
    else (a study team's address from the registry, with no account) the site's country's
    when it is one of ours; else the default."""
    if inquiry.routed_to == RoutedTo.TRIAGE:
        default = settings.LANGUAGE_CODE
    else:
        default = country_language(inquiry.site)
    return address_language(inquiry.routed_email, default)


# --- links ---------------------------------------------------------------------------------------


def withdraw_token(inquiry: Inquiry) -> str:
    """A signed, URL-safe token naming the inquiry by its public id (checked by the view)."""
    return signing.dumps(str(inquiry.public_id), salt=WITHDRAW_SALT)


def withdraw_url(inquiry: Inquiry) -> str:
    return absolute_url(
        "patients:withdraw", withdraw_token(inquiry), language=inquiry.email_language
    )


def status_token(inquiry: Inquiry) -> str:
    """A signed token for the patient's status page (checked by the view)."""
    return signing.dumps(str(inquiry.public_id), salt=STATUS_SALT)


def status_url(inquiry: Inquiry) -> str:
    return absolute_url("patients:status", status_token(inquiry), language=inquiry.email_language)


def inquiry_from_token(token: str, *, salt: str, max_age: datetime.timedelta) -> Inquiry | None:
    """The inquiry a signed link names; None when the link is tampered, expired or unknown."""
    try:
        public_id = uuid.UUID(signing.loads(token, salt=salt, max_age=max_age))
    except (signing.BadSignature, ValueError, TypeError, AttributeError):
        return None
    return Inquiry.objects.select_related("trial", "site").filter(public_id=public_id).first()


def admin_url(inquiry: Inquiry) -> str:
    return settings.SITE_URL + reverse("admin:patients_inquiry_change", args=[inquiry.pk])


def _email_context(inquiry: Inquiry, *, language: str, **extra: Any) -> dict[str, Any]:
    """Links in the recipient's `language` (the trial page; the admin has one language)."""
    return {
        "inquiry": inquiry,
        "trial": inquiry.trial,
        "site": inquiry.site,
        "admin_url": admin_url(inquiry),
        "trial_url": absolute_url("trials:detail", inquiry.trial.nct_id, language=language),
        **extra,
    }


def patient_email_context(inquiry: Inquiry, **extra: Any) -> dict[str, Any]:
    """Every email to the patient links to their status page and to withdrawal."""
    return _email_context(
        inquiry,
        language=inquiry.email_language,
        status_url=status_url(inquiry),
        withdraw_url=withdraw_url(inquiry),
        **extra,
    )


def inquiry_queue_email(
    inquiry: Inquiry,
    name: str,
    *,
    to: str,
    language: str,
    context: dict[str, Any],
    reply_to: str = "",
    erased_with_inquiry: bool = True,
    record: bool = True,
) -> OutgoingEmail:
    """Queue one email about an inquiry, in `language` (said in Content-Language too).

    It is erased with the patient's data unless erased_with_inquiry=False (a notice that holds
    none, sent after the erasure). The inquiry's timeline shows it with its live status (the
    admin) unless record=False: the caller records it in an event of its own.
    """
    email = queue_email(
        name,
        to=to,
        context=context,
        language=language,
        erase_key=inquiry.erase_key if erased_with_inquiry else "",
        headers={"Content-Language": language},
        reply_to=reply_to,
    )
    if record:
        InquiryEvent.objects.create(inquiry=inquiry, kind=EventKind.EMAIL, email=email)
    return email


# --- the same form post twice ---------------------------------------------------------------------


def submitted(submission_key: uuid.UUID | str | None) -> InquiryEvent | None:
    """The event a form post already made, or None: the post is being sent again (a retry after
    a database restart, a double click, "Try again" on the 503 page) and must change nothing."""
    if not submission_key:
        return None
    return (
        InquiryEvent.objects.select_related("inquiry__site", "inquiry__trial")
        .filter(submission_key=submission_key)
        .first()
    )


def _unless_repeated(
    submission_key: uuid.UUID | str | None,
    write: Callable[[], T],
    answer: Callable[[InquiryEvent], T],
) -> T:
    """write() once per form post; a post sent again gets answer(event of the first)."""
    done = submitted(submission_key)
    if done is None:
        try:
            return write()
        except IntegrityError:
            # Two copies of the post at once: the unique key let the other one in.
            done = submitted(submission_key)
            if done is None:
                raise
    return answer(done)


# --- creation ------------------------------------------------------------------------------------


def inquiry_create(
    *,
    trial: Trial,
    site: Site,
    data: dict[str, str],
    language: str,
    consent_text: str,
    consent_version: str,
    prescreen: dict[str, Any] | None = None,
    near: str = "",
    submission_key: uuid.UUID | str | None = None,
) -> Inquiry:
    """Save a patient's inquiry and queue its two emails, all in one transaction.

    1. The same form post saved already (its submission key): return that inquiry, unchanged.
    2. Refuse a trial that stopped recruiting, or a site that is not a recruiting site of it
       (including a site its coordinator paused or closed).
    3. Decide where it goes (site contact, central contact, triage) and store the decision.
    4. Write the inquiry, its first timeline event (with the submission key) and the two
       outgoing emails (to the team, copy to the patient). The emails leave after commit, from
       a worker: nothing here waits on SMTP, and if the broker is down the outbox sweeper
       sends them later. Two copies of one post at once: the key's unique index lets one in.
    """

    def write() -> Inquiry:
        if not trial.is_open:
            raise InquiryRefused("trial not recruiting")
        if site.trial_id != trial.id or not site.is_recruiting:
            raise InquiryRefused("site not recruiting for this trial")
        routed_to, routed_email = inquiry_route(site=site)
        with transaction.atomic():
            inquiry = Inquiry.objects.create(
                trial=trial,
                site=site,
                first_name=data["first_name"],
                last_name=data["last_name"],
                email=data["email"],
                phone=data["phone"],
                preferred_language=data["preferred_language"],
                other_language=data.get("other_language", ""),
                message=data.get("message", ""),
                prescreen=prescreen or {},
                near=near.strip()[:200],
                language=language,
                consent_text=consent_text,
                consent_version=consent_version,
                routed_to=routed_to,
                routed_email=routed_email,
            )
            InquiryEvent.objects.create(
                inquiry=inquiry,
                kind=EventKind.SUBMITTED,
                to_status=InquiryStatus.NEW,
                submission_key=submission_key,
            )
            team_language = site_language(inquiry)
            inquiry_queue_email(
                inquiry,
                "inquiry-to-site",
                to=routed_email,
                context=_email_context(inquiry, language=team_language),
                language=team_language,
                reply_to=inquiry.email,
            )
            inquiry_queue_email(
                inquiry,
                "inquiry-copy",
                to=inquiry.email,
                context=patient_email_context(inquiry),
                language=inquiry.email_language,
            )
        log.info("inquiry %s created, routed to %s", inquiry.pk, routed_to)
        return inquiry

    return _unless_repeated(submission_key, write, lambda done: done.inquiry)


# --- the coordinators' workflow ------------------------------------------------------------------


def _locked(inquiry: Inquiry) -> Inquiry:
    return Inquiry.objects.select_for_update().select_related("site", "trial").get(pk=inquiry.pk)


def _set_status(
    inquiry: Inquiry,
    to_status: str,
    *,
    actor: Actor | None,
    text: str = "",
    kind: str | None = None,
    submission_key: uuid.UUID | str | None = None,
) -> None:
    now = timezone.now()
    from_status = inquiry.status
    inquiry.status = to_status
    fields = ["status"]
    # Response time counts from submission to the first move a coordinator made out of "new".
    if from_status == InquiryStatus.NEW and actor is not None and not inquiry.first_contacted_at:
        inquiry.first_contacted_at = now
        fields.append("first_contacted_at")
    if to_status in CLOSED_STATUSES:
        inquiry.closed_at = now
        fields.append("closed_at")
    elif inquiry.closed_at:
        inquiry.closed_at = None  # reopened: the retention clock stops
        fields.append("closed_at")
    inquiry.save(update_fields=fields)
    InquiryEvent.objects.create(
        inquiry=inquiry,
        kind=kind or EventKind.STATUS_CHANGE,
        actor=actor,
        from_status=from_status,
        to_status=to_status,
        text=text,
        created_at=now,
        submission_key=submission_key,
    )


def inquiry_change_status(
    *,
    inquiry: Inquiry,
    to_status: str,
    actor: Actor | None,
    note: str = "",
    submission_key: uuid.UUID | str | None = None,
) -> Inquiry:
    """Move an inquiry along the workflow; the timeline records who, when, from and to.

    The patient gets the status's email (StatusEmail) when staff turned it on for their
    language, in the same transaction: one move, at most one email. The same form post sent
    again (its submission key) changes nothing.
    """

    def write() -> Inquiry:
        with transaction.atomic():
            locked = _locked(inquiry)
            if locked.is_erased or to_status not in allowed_transitions(locked.status):
                raise TransitionRefused(f"{locked.status} → {to_status}")
            _set_status(
                locked, to_status, actor=actor, text=note.strip(), submission_key=submission_key
            )
            _queue_status_email(locked)
        return locked

    return _unless_repeated(submission_key, write, lambda done: done.inquiry)


def _queue_status_email(inquiry: Inquiry) -> OutgoingEmail | None:
    """The staff-written email for the inquiry's new status, if on; recorded in the timeline.
    A "not eligible" email also offers other recruiting trials near the patient."""
    from patients import alternatives, status_emails

    language = inquiry.email_language
    text = status_emails.text_for(inquiry.status, language)
    if text is None:
        return None
    subject, body = status_emails.render(text, inquiry)
    extra = {}
    if inquiry.status == InquiryStatus.NOT_ELIGIBLE:
        found = alternatives.alternatives_for_inquiry(inquiry)
        if found is not None:
            extra = {
                "alternatives": found,
                "alert_url": alternatives.one_click_url(inquiry, found.params),
            }
    return inquiry_queue_email(
        inquiry,
        "inquiry-status",
        to=inquiry.email,
        context=patient_email_context(inquiry, subject=subject, body=body, **extra),
        language=language,
    )


def inquiries_mark_contacted(*, inquiries: QuerySet[Inquiry], actor: Actor) -> int:
    """Bulk action: every "new" inquiry of `inquiries` becomes "contacted"; returns how many."""
    count = 0
    for inquiry in inquiries.filter(status=InquiryStatus.NEW, erased_at__isnull=True):
        try:
            inquiry_change_status(inquiry=inquiry, to_status=InquiryStatus.CONTACTED, actor=actor)
        except TransitionRefused:
            continue  # changed by someone else meanwhile
        count += 1
    return count


def can_be_assigned(user: Actor, site: Site) -> bool:
    if not user.is_active or not user.is_staff:
        return False
    return coordinated_sites(user).filter(pk=site.pk).exists()


def inquiry_assign(*, inquiry: Inquiry, assignee: Actor | None, actor: Actor) -> Inquiry:
    """Give the inquiry to a coordinator of its site (or to nobody, with None)."""
    with transaction.atomic():
        locked = _locked(inquiry)
        if assignee is not None and not can_be_assigned(assignee, locked.site):
            raise TransitionRefused("assignee does not coordinate this site")
        if locked.assignee_id == (assignee.pk if assignee else None):
            return locked
        locked.assignee = assignee
        locked.save(update_fields=["assignee"])
        InquiryEvent.objects.create(
            inquiry=locked,
            kind=EventKind.ASSIGNMENT,
            actor=actor,
            text=assignee.get_username() if assignee else "",
        )
    return locked


def inquiry_add_note(
    *, inquiry: Inquiry, actor: Actor, text: str, submission_key: uuid.UUID | str | None = None
) -> InquiryEvent:
    """An internal note, seen by the site's coordinators only (once per form post)."""

    def write() -> InquiryEvent:
        with transaction.atomic():
            locked = _locked(inquiry)
            if locked.is_erased:
                raise TransitionRefused("erased")
            return InquiryEvent.objects.create(
                inquiry=locked,
                kind=EventKind.NOTE,
                actor=actor,
                text=text.strip(),
                submission_key=submission_key,
            )

    return _unless_repeated(submission_key, write, lambda done: done)


def _reply_email(event: InquiryEvent) -> OutgoingEmail:
    assert event.email is not None  # a REPLY event always holds its email
    return event.email


def inquiry_reply(
    *,
    inquiry: Inquiry,
    actor: Actor,
    message: str,
    submission_key: uuid.UUID | str | None = None,
) -> OutgoingEmail:
    """Email the patient through the outbox; the reply goes in the timeline, and a reply to a
    "new" inquiry is its first contact. The same form post sent again sends nothing more."""

    def write() -> OutgoingEmail:
        with transaction.atomic():
            locked = _locked(inquiry)
            if locked.is_erased or locked.status == InquiryStatus.WITHDRAWN:
                raise TransitionRefused("the patient withdrew")
            email = inquiry_queue_email(
                locked,
                "inquiry-reply",
                to=locked.email,
                context=patient_email_context(locked, message=message.strip()),
                language=locked.email_language,
                reply_to=actor.email if actor.email else locked.routed_email,
                record=False,  # the REPLY event below holds it, with the message
            )
            InquiryEvent.objects.create(
                inquiry=locked,
                kind=EventKind.REPLY,
                actor=actor,
                text=message.strip(),
                email=email,
                submission_key=submission_key,
            )
            if locked.status == InquiryStatus.NEW:
                # The reply itself is the contact: no "contacted" status email on top of it.
                _set_status(locked, InquiryStatus.CONTACTED, actor=actor)
        return email

    return _unless_repeated(submission_key, write, _reply_email)


# --- withdrawal and erasure ----------------------------------------------------------------------


def inquiry_withdraw(*, inquiry: Inquiry) -> bool:
    """The patient withdraws: the inquiry closes, their data is erased, and the team is told
    (without any personal data) if it may already have received the inquiry.

    Returns False when it was already withdrawn or erased (a second click changes nothing).
    """
    with transaction.atomic():
        locked = _locked(inquiry)
        if locked.is_erased or locked.status == InquiryStatus.WITHDRAWN:
            return False
        _set_status(locked, InquiryStatus.WITHDRAWN, actor=None, kind=EventKind.WITHDRAWN)
        team_may_have_it = OutgoingEmail.objects.filter(
            erase_key=locked.erase_key,
            template="inquiry-to-site",
            status__in=[EmailStatus.SENT, EmailStatus.SENDING],
        ).exists()
        _erase(locked)
        if team_may_have_it:
            language = site_language(locked)
            inquiry_queue_email(
                locked,
                "inquiry-withdrawn",
                to=locked.routed_email,
                context=_email_context(locked, language=language),
                language=language,
                erased_with_inquiry=False,  # sent after the erasure, and holds no patient data
            )
    log.info("inquiry %s withdrawn by the patient", locked.pk)
    return True


def _erase(inquiry: Inquiry) -> None:
    """Blank everything that identifies the patient or describes their health; keep the dates,
    statuses, site, trial and routing for the statistics. Caller holds the row lock."""
    for name in PERSONAL_FIELDS:
        setattr(inquiry, name, "")
    # Only the overall pre-screening outcome stays: answers are health data.
    inquiry.prescreen = {"result": inquiry.prescreen.get("result", "")}
    inquiry.erased_at = timezone.now()
    inquiry.save(update_fields=[*PERSONAL_FIELDS, "prescreen", "erased_at"])
    InquiryEvent.objects.filter(
        inquiry=inquiry, kind__in=[EventKind.NOTE, EventKind.REPLY, EventKind.STATUS_CHANGE]
    ).update(text="")
    rows = OutgoingEmail.objects.filter(erase_key=inquiry.erase_key)
    # An email not sent yet will never be: its recipient or content is gone.
    rows.filter(status=EmailStatus.QUEUED).update(status=EmailStatus.CANCELLED)
    rows.update(to_email="", reply_to="", subject="", body_text="", body_html="", headers={})
    InquiryEvent.objects.create(inquiry=inquiry, kind=EventKind.ERASED)


def inquiry_erase(*, inquiry: Inquiry) -> bool:
    """Erase the patient's data now (retention); False when already erased."""
    with transaction.atomic():
        locked = _locked(inquiry)
        if locked.is_erased:
            return False
        _erase(locked)
    return True


def inquiries_due_for_erasure(*, now: datetime.datetime | None = None) -> QuerySet[Inquiry]:
    """Closed inquiries whose retention period is over and whose data is still there."""
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(days=settings.INQUIRY_RETENTION_DAYS)
    return Inquiry.objects.filter(
        status__in=CLOSED_STATUSES, closed_at__lt=cutoff, erased_at__isnull=True
    )


def inquiry_erase_if_expired(*, inquiry_id: int) -> bool:
    """Retention for one inquiry, re-checked under lock (it may have been reopened since it
    was picked)."""
    with transaction.atomic():
        due = inquiries_due_for_erasure().select_for_update().filter(pk=inquiry_id).first()
        if due is None:
            return False
        _erase(due)
    log.info("inquiry %s: personal data erased after the retention period", inquiry_id)
    return True
