"""Staff accounts: the language of their emails, and the email with which a staff member sets up
(or replaces) the authenticator of their two-step login. See config/otp.py for why a password
alone never does."""

from django.conf import settings
from django.contrib.auth import get_user_model

from config.otp import SETUP_MAX_AGE, otp_setup_url
from notifications.emails import queue_email
from patients.models import StaffProfile

LANGUAGE_CODES = {code for code, _name in settings.LANGUAGES}


class NoAddress(ValueError):
    """The staff member has no email address to send the link to."""


def staff_language(user, default: str = settings.LANGUAGE_CODE) -> str:
    """The language a staff member reads their emails in: their own choice (admin → My email
    language), set at their first admin login to the admin's language; never their sites'
    countries."""
    profile = StaffProfile.objects.filter(user_id=user.pk).first()
    return profile.email_language if profile else default


def address_language(address: str, default: str) -> str:
    """The language of a staff member with this address, else `default` (a study team's
    address from the registry has no account, and so no choice of its own)."""
    user = (
        get_user_model()
        .objects.filter(email__iexact=address, is_active=True, is_staff=True)
        .order_by("pk")
        .first()
    )
    return staff_language(user) if user else default


def staff_remember_admin_language(*, user, language: str) -> None:
    """The default of a staff member's email language: the admin's, at their first login."""
    if user.is_staff and language in LANGUAGE_CODES:
        StaffProfile.objects.get_or_create(user=user, defaults={"email_language": language})


def staff_send_otp_setup_link(*, user, default_language: str = settings.LANGUAGE_CODE) -> None:
    """Email `user` a one-time link to pair an authenticator; earlier links stop working. In
    their language, else (a new account) `default_language`."""
    if not user.email:
        raise NoAddress(f"user {user.pk} has no email address")
    queue_email(
        "staff-otp-setup",
        to=user.email,
        language=staff_language(user, default_language),
        context={"user": user, "setup_url": otp_setup_url(user), "days": SETUP_MAX_AGE.days},
    )
