"""Demo set-up for `make run`: the portal's own texts for the seed trials, an administrator and
two study coordinators (passwords printed). Safe to run again: it resets the demo passwords.

"coordinator" handles the sites of the two seed trials (Strasbourg and Rozzano); "coordinator2"
handles one site of another trial, and sees none of the first one's inquiries.
"""

import json
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from patients.roles import make_coordinator
from trials.models import Site, Trial

PORTAL_TEXTS = Path(settings.BASE_DIR) / "trials" / "demo_data" / "portal-texts.json"
SEED_TRIALS = ("NCT05738187", "NCT07635641")
# Demo texts we shipped and took back, cleared where they are still as shipped: "Active
# substance: proton therapy" called radiation a substance (issue 17); the generated read's
# "What is being studied" says it right.
RETRACTED = {("NCT07635641", "what_it_could_mean"): "Active substance: proton therapy."}
# A real trial whose Milan site has its own contact address (routing by site).
OTHER_TRIAL = "NCT06129864"


class Command(BaseCommand):
    help = "Load the demo portal texts and create (or reset) the demo logins."

    def handle(self, *args, **options):
        for (nct_id, name), text in RETRACTED.items():
            Trial.objects.filter(nct_id=nct_id, **{name: text}).update(**{name: ""})
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
        users = {}
        for username, superuser in (
            ("admin", True),
            ("coordinator", False),
            ("coordinator2", False),
        ):
            password = secrets.token_urlsafe(12)
            user, _ = User.objects.get_or_create(
                username=username, defaults={"email": f"{username}@trialfinder.localhost"}
            )
            user.is_staff = True
            user.is_superuser = superuser
            user.set_password(password)
            user.save()
            users[username] = user
            self.stdout.write(f"  login {username!r} password {password!r}")

        seed_sites = Site.objects.filter(trial__nct_id__in=SEED_TRIALS).recruiting()
        make_coordinator(users["coordinator"], *seed_sites)
        other = (
            Site.objects.recruiting()
            .filter(trial__nct_id=OTHER_TRIAL, country_code="IT")
            .order_by("position")
            .first()
        ) or Site.objects.recruiting().exclude(trial__nct_id__in=SEED_TRIALS).first()
        make_coordinator(users["coordinator2"], *([other] if other else []))
        for username in ("coordinator", "coordinator2"):
            sites = ", ".join(
                str(link.site) for link in users[username].coordinated_sites.select_related("site")
            )
            self.stdout.write(f"  {username} coordinates: {sites or 'no site'}")
