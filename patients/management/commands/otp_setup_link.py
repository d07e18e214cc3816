"""A set-up link for a staff member's two-step login, printed on the server: how the first
administrator pairs an authenticator (everyone else gets one by email from the user list)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from config.otp import SETUP_MAX_AGE, otp_setup_url
from patients.staff import NoAddress, staff_send_otp_setup_link


class Command(BaseCommand):
    help = "Print (or email with --email) a one-time link to set up a staff member's authenticator."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--email", action="store_true", help="email it instead of printing")

    def handle(self, *args, username, email, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None or not user.is_active or not user.is_staff:
            raise CommandError(f"{username!r} is not an active staff account")
        if email:
            try:
                staff_send_otp_setup_link(user=user)
            except NoAddress as exc:
                raise CommandError(f"{username!r} has no email address") from exc
            self.stdout.write(f"Emailed a set-up link to {username}.")
            return
        self.stdout.write(otp_setup_url(user))
        self.stdout.write(
            f"It works once, for {SETUP_MAX_AGE.days} days, with {username}'s password; "
            "earlier links stop working."
        )
