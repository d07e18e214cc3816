"""Demo set-up for `make run`: the portal's own texts for the seed trials, an administrator and
a study coordinator (passwords printed). Safe to run again: it resets the demo passwords."""

import json
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from trials.models import Trial

PORTAL_TEXTS = Path(settings.BASE_DIR) / "trials" / "demo_data" / "portal-texts.json"


class Command(BaseCommand):
    help = "Load the demo portal texts and create (or reset) the demo logins."

    def handle(self, *args, **options):
        texts = json.loads(PORTAL_TEXTS.read_text())
        for nct_id, fields in texts.items():
            # Only fill what staff have not written themselves.
            trial = Trial.objects.filter(nct_id=nct_id).first()
            if trial is None:
                continue
            changed = [name for name, value in fields.items() if not getattr(trial, name)]
            for name in changed:
                setattr(trial, name, fields[name])
            if changed:
                trial.save(update_fields=changed)

        User = get_user_model()
        for username, superuser in (("admin", True), ("coordinator", False)):
            password = secrets.token_urlsafe(12)
            user, _ = User.objects.get_or_create(
                username=username, defaults={"email": f"{username}@trialfinder.localhost"}
            )
            user.is_staff = True
            user.is_superuser = superuser
            user.set_password(password)
            user.save()
            self.stdout.write(f"  login {username!r} password {password!r}")
