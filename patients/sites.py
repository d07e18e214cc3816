"""Fresh site status: coordinators confirm (or pause, or close) recruitment at their sites, from
the admin or from a signed link in a monthly "still recruiting?" email.

What a coordinator says is kept apart from the registry's status (trials.Site portal-owned
fields, never written by the importer); a paused or closed site stops being offered to patients
(Site.is_recruiting, SiteQuerySet.recruiting, trials.search.SITE_ELIGIBLE_SQL).
"""

import datetime
import logging

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.db.models import Max, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _

from config.db import wait_for_replica
from config.i18n import absolute_url
from notifications.emails import queue_email
from patients.models import SiteConfirmation, SiteCoordinator, coordinated_sites
from patients.staff import staff_language
from trials.engine import update_on_commit
from trials.models import FRESH_DAYS, OPEN_STATUSES, CoordinatorStatus, Site, Trial
from trials.search import bump_search_generation

log = logging.getLogger(__name__)

CONFIRM_SALT = "patients.site-confirm"
# The monthly email's link works until well after the next one is sent.
CONFIRM_MAX_AGE = datetime.timedelta(days=45)
# A site confirmed, or asked, within this many days is not asked again.
NUDGE_EVERY = datetime.timedelta(days=30)
CHOICES = (CoordinatorStatus.RECRUITING, CoordinatorStatus.PAUSED, CoordinatorStatus.CLOSED)


class ConfirmRefused(Exception):
    """The user may not speak for this site (not, or no longer, one of its coordinators)."""


def site_name(site: Site) -> str:
    """A site as a patient or a team names it: the facility, else its town."""
    return site.facility or site.place or str(_("Study site"))


def may_confirm(user, site: Site) -> bool:
    if user is None or not user.is_active or not user.is_staff:
        return False
    return coordinated_sites(user).filter(pk=site.pk).exists()


def fresh_since(now: datetime.datetime | None = None) -> datetime.datetime:
    return (now or timezone.now()) - datetime.timedelta(days=FRESH_DAYS)


# --- confirming ----------------------------------------------------------------------------------


def site_confirm(*, site: Site, user, status: str, via: str = SiteConfirmation.Via.ADMIN) -> Site:
    """A coordinator says the site is recruiting, paused or closed.

    1. Refuse anyone who does not coordinate the site (superusers may).
    2. Under the site's row lock: store the status, when and by whom, and log it.
    3. Refresh the trial's latest confirmation (the search ranks with it) and drop every cached
       search result (a closed site must stop being found "near" at once).
    """
    if status not in CHOICES:
        raise ValueError(f"unknown site status {status!r}")
    if not may_confirm(user, site):
        raise ConfirmRefused("not a coordinator of this site")
    now = timezone.now()
    with transaction.atomic():
        locked = Site.objects.select_for_update().get(pk=site.pk)
        previous = locked.coordinator_status
        locked.coordinator_status = status
        locked.status_confirmed_at = now
        locked.status_confirmed_by = user
        locked.save(
            update_fields=["coordinator_status", "status_confirmed_at", "status_confirmed_by"]
        )
        SiteConfirmation.objects.create(
            site=locked, user=user, status=status, previous_status=previous, via=via, created_at=now
        )
        trial_refresh_confirmation(trial_id=locked.trial_id)
        update_on_commit([locked.trial_id])  # "near" and the freshness rank read the index
        transaction.on_commit(_bump_when_replicated)
    log.info("site %s: %s, confirmed by user %s via %s", locked.pk, status, user.pk, via)
    return locked


def _bump_when_replicated() -> None:
    # Searches read from the replica: bump once it has the change, or a search run in between
    # would cache the old site status under the new generation.
    wait_for_replica()
    bump_search_generation()


def trial_refresh_confirmation(*, trial_id: int) -> None:
    """Trial.sites_confirmed_at = the latest confirmation among its current sites confirmed
    recruiting (NULL when none is)."""
    latest = Site.objects.filter(
        trial_id=trial_id,
        removed_at__isnull=True,
        coordinator_status=CoordinatorStatus.RECRUITING,
    ).aggregate(latest=Max("status_confirmed_at"))["latest"]
    Trial.objects.filter(pk=trial_id).update(sites_confirmed_at=latest)


# --- the signed link -----------------------------------------------------------------------------


def _user_key(user) -> str:
    """Derived from the coordinator's password hash, as Django's password-reset links are: a
    link cannot be made from SECRET_KEY alone, and a new password voids the links sent before."""
    return salted_hmac(CONFIRM_SALT, user.password, algorithm="sha256").hexdigest()[:32]


def confirm_token(site: Site, user) -> str:
    """Names the site and the coordinator it was sent to (who the confirmation is recorded as)."""
    return signing.dumps([site.pk, user.pk, _user_key(user)], salt=CONFIRM_SALT)


def confirm_url(site: Site, user) -> str:
    return absolute_url(
        "patients:site-confirm", confirm_token(site, user), language=staff_language(user)
    )


def read_confirm_token(token: str) -> tuple[Site, object] | None:
    """(site, user) of a valid, unexpired link whose user still coordinates the site."""
    from django.contrib.auth import get_user_model

    try:
        site_id, user_id, user_key = signing.loads(
            token, salt=CONFIRM_SALT, max_age=CONFIRM_MAX_AGE
        )
    except (signing.BadSignature, ValueError, TypeError):
        return None
    site = Site.objects.select_related("trial").filter(pk=site_id).first()
    user = get_user_model().objects.filter(pk=user_id).first()
    if site is None or not may_confirm(user, site):
        return None
    if not constant_time_compare(str(user_key), _user_key(user)):
        return None
    return site, user


# --- the monthly email ---------------------------------------------------------------------------


def _due_filter(now: datetime.datetime) -> Q:
    since = now - NUDGE_EVERY
    return (Q(status_confirmed_at__isnull=True) | Q(status_confirmed_at__lt=since)) & (
        Q(confirmation_requested_at__isnull=True) | Q(confirmation_requested_at__lt=since)
    )


def sites_due_for_confirmation(*, now: datetime.datetime | None = None):
    """Sites to ask "still recruiting?": recruiting in the registry record of an open trial,
    not closed by their coordinator (a paused site is asked whether it reopened), with at least
    one active coordinator, and neither confirmed nor asked in the last 30 days."""
    now = now or timezone.now()
    with_coordinators = SiteCoordinator.objects.filter(
        user__is_active=True, user__is_staff=True
    ).exclude(user__email="")
    return (
        Site.objects.current()
        .filter(status__in=OPEN_STATUSES, trial__overall_status__in=OPEN_STATUSES)
        .exclude(coordinator_status=CoordinatorStatus.CLOSED)
        .filter(pk__in=with_coordinators.values("site_id"))
        .filter(_due_filter(now))
    )


def site_request_confirmation(*, site_id: int) -> int:
    """Send the monthly question to each coordinator of one site; returns how many emails.

    The site is claimed with a conditional UPDATE of confirmation_requested_at in the same
    transaction as the emails: a duplicate task (or a second beat run) finds it claimed and
    sends nothing.
    """
    now = timezone.now()
    with transaction.atomic():
        claimed = (
            sites_due_for_confirmation(now=now)
            .filter(pk=site_id)
            .update(confirmation_requested_at=now)
        )
        if not claimed:
            return 0
        site = Site.objects.select_related("trial").get(pk=site_id)
        coordinators = [
            link.user
            for link in SiteCoordinator.objects.filter(
                site=site, user__is_active=True, user__is_staff=True
            )
            .exclude(user__email="")
            .select_related("user")
            .order_by("user_id")
        ]
        for user in coordinators:
            # Each coordinator's own language, not the site's country's.
            language = staff_language(user)
            queue_email(
                "site-confirm",
                to=user.email,
                context={
                    "site": site,
                    "trial": site.trial,
                    "user": user,
                    "confirm_url": confirm_url(site, user),
                    "days": CONFIRM_MAX_AGE.days,
                    "stale_days": FRESH_DAYS,
                    "admin_url": settings.SITE_URL
                    + reverse("admin:patients_coordinatedsite_changelist"),
                },
                language=language,
                headers={"Content-Language": language},
            )
    log.info("site %s: asked %s coordinator(s) to confirm recruitment", site_id, len(coordinators))
    return len(coordinators)
