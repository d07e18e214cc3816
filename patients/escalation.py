"""Escalation of unanswered inquiries: still "new" after the site's response deadline
(Site.response_business_days working days, Monday to Friday), the site's other coordinators are
reminded (level 1) and the patient is told that we are chasing it; one working day after that
reminder, the TrialFinder team is told (level 2). A site without another coordinator to remind
goes straight to level 2.

An hourly beat task selects the due inquiries and fans out one task each; each task re-checks
under the inquiry's row lock and moves it up one level in the same transaction as its emails,
so a duplicate task, a retry or a second beat run sends nothing more.

Emails to the team carry no health details: the trial, the site, when it was submitted, and
the admin link (where coordinators see the rest).
"""

import datetime
import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from patients.models import EventKind, Inquiry, InquiryEvent, InquiryStatus, SiteCoordinator
from patients.services import (
    admin_url,
    inquiry_queue_email,
    patient_email_context,
)
from patients.staff import address_language, staff_language
from patients.stats import business_days_before
from trials.models import Site

log = logging.getLogger(__name__)

COORDINATORS_TOLD, TRIAGE_TOLD = 1, 2
# The TrialFinder team hears about it this many working days after the coordinators' reminder.
TRIAGE_AFTER_BUSINESS_DAYS = 1
# Older inquiries are not escalated any more (the admin still flags them as overdue): this
# keeps a first deployment, or a beat that was down for weeks, from sending patients "we are
# chasing it" about inquiries from long ago.
MAX_AGE = datetime.timedelta(days=30)


def due_level(inquiry: Inquiry, now: datetime.datetime) -> int | None:
    """The level an inquiry should be escalated to now, or None."""
    if inquiry.status != InquiryStatus.NEW or inquiry.is_erased:
        return None
    if inquiry.escalation_level == 0:
        deadline_passed = inquiry.created_at < business_days_before(
            now, inquiry.site.response_business_days
        )
        if deadline_passed and inquiry.created_at >= now - MAX_AGE:
            return COORDINATORS_TOLD
    escalated_at = inquiry.escalated_at
    reminded = inquiry.escalation_level == COORDINATORS_TOLD
    if (
        reminded
        and escalated_at
        and escalated_at < business_days_before(now, TRIAGE_AFTER_BUSINESS_DAYS)
    ):
        return TRIAGE_TOLD
    return None


def inquiries_due_for_escalation(*, now: datetime.datetime | None = None) -> list[tuple[int, int]]:
    """(inquiry id, its current level) of every inquiry due for the next level.

    One query per distinct response deadline among the sites with waiting inquiries (a
    handful), plus one for level 2: the cutoffs are computed here, in working days.
    """
    now = now or timezone.now()
    waiting = Inquiry.objects.filter(
        status=InquiryStatus.NEW, erased_at__isnull=True, escalation_level__lt=TRIAGE_TOLD
    )
    deadlines = (
        Site.objects.filter(pk__in=waiting.filter(escalation_level=0).values("site_id"))
        .values_list("response_business_days", flat=True)
        .distinct()
    )
    due: list[tuple[int, int]] = []
    for days in deadlines:
        due += [
            (pk, 0)
            for pk in waiting.filter(
                escalation_level=0,
                site__response_business_days=days,
                created_at__lt=business_days_before(now, days),
                created_at__gte=now - MAX_AGE,
            ).values_list("id", flat=True)
        ]
    due += [
        (pk, COORDINATORS_TOLD)
        for pk in waiting.filter(
            escalation_level=COORDINATORS_TOLD,
            escalated_at__lt=business_days_before(now, TRIAGE_AFTER_BUSINESS_DAYS),
        ).values_list("id", flat=True)
    ]
    return due


def _other_coordinators(inquiry: Inquiry) -> list:
    """The site's active coordinators with an address, except the one it is assigned to."""
    links = (
        SiteCoordinator.objects.filter(site=inquiry.site, user__is_active=True, user__is_staff=True)
        .exclude(user__email="")
        .select_related("user")
        .order_by("user_id")
    )
    return [link.user for link in links if link.user_id != inquiry.assignee_id]


def inquiry_escalate(*, inquiry_id: int, from_level: int) -> int:
    """Move one inquiry up a level if it is still due; returns the new level (0: nothing).

    1. Lock the inquiry; stop unless it is still "new" at `from_level` and due.
    2. Level 1: email the site's other coordinators (none: go to level 2 at once).
       Level 2: email the TrialFinder team.
    3. The first escalation also tells the patient that we are chasing the team (once).
    4. Record the level, the time and the emails in the timeline.
    """
    now = timezone.now()
    with transaction.atomic():
        inquiry = (
            Inquiry.objects.select_for_update(of=("self",))
            .select_related("site", "trial")
            .filter(pk=inquiry_id)
            .first()
        )
        if inquiry is None or inquiry.escalation_level != from_level:
            return 0
        level = due_level(inquiry, now)
        if level is None:
            return 0
        coordinators = _other_coordinators(inquiry) if level == COORDINATORS_TOLD else []
        if level == COORDINATORS_TOLD and not coordinators:
            level = TRIAGE_TOLD

        context = {
            "inquiry": inquiry,
            "trial": inquiry.trial,
            "site": inquiry.site,
            "days": inquiry.site.response_business_days,
            "admin_url": admin_url(inquiry),
            "coordinators_told": from_level == COORDINATORS_TOLD,
        }
        if level == COORDINATORS_TOLD:
            for user in coordinators:
                language = staff_language(user)  # theirs, not the site's country's
                inquiry_queue_email(
                    inquiry,
                    "inquiry-reminder",
                    to=user.email,
                    context=context,
                    language=language,
                )
            kind = EventKind.REMINDED
        else:
            language = address_language(settings.TRIAGE_EMAIL, settings.LANGUAGE_CODE)
            inquiry_queue_email(
                inquiry,
                "inquiry-escalated",
                to=settings.TRIAGE_EMAIL,
                context=context,
                language=language,
            )
            kind = EventKind.ESCALATED

        if from_level == 0:
            inquiry_queue_email(
                inquiry,
                "inquiry-chasing",
                to=inquiry.email,
                context=patient_email_context(inquiry),
                language=inquiry.email_language,
            )

        inquiry.escalation_level = level
        inquiry.escalated_at = now
        inquiry.save(update_fields=["escalation_level", "escalated_at"])
        InquiryEvent.objects.create(inquiry=inquiry, kind=kind, created_at=now)
    log.info("inquiry %s escalated to level %s", inquiry_id, level)
    return level
