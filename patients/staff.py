"""Staff accounts: the email with which a staff member sets up (or replaces) the authenticator
of their two-step login. See config/otp.py for why a password alone never does."""

from config.otp import SETUP_MAX_AGE, otp_setup_url
from notifications.emails import queue_email


class NoAddress(ValueError):
    """The staff member has no email address to send the link to."""


def staff_send_otp_setup_link(*, user, language: str = "en") -> None:
    """Email `user` a one-time link to pair an authenticator; earlier links stop working."""
    if not user.email:
        raise NoAddress(f"user {user.pk} has no email address")
    queue_email(
        "staff-otp-setup",
        to=user.email,
        language=language,
        context={"user": user, "setup_url": otp_setup_url(user), "days": SETUP_MAX_AGE.days},
    )
