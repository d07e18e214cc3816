"""The whole path once, with a real Celery worker and a real SMTP server: the beat's monthly
fan-out reaches the coordinator's inbox, and the link in it confirms the site."""

import re

import pytest
from django.contrib.auth import get_user_model

from patients import tasks
from patients.models import SiteConfirmation, StaffProfile
from patients.roles import make_coordinator
from tests.conftest import SEED_DATA, import_records
from tests.fakes import SmtpSink
from trials.models import Site


@pytest.mark.worker
def test_a_coordinator_confirms_a_site_from_the_monthly_email(worker_process, client):
    import_records(SEED_DATA)
    site = Site.objects.get(trial__nct_id="NCT05738187")
    bob = get_user_model().objects.create_user("bob", "bob@site.example.org", "x")
    make_coordinator(bob, site)
    # Bob reads his emails in French (the site's country has no say in it).
    StaffProfile.objects.create(user=bob, email_language="fr")
    with SmtpSink() as sink:
        worker_process(env=sink.env)
        tasks.request_site_confirmations.delay()  # what beat does every morning
        (message,) = sink.wait_for(1)
        assert Site.objects.get(pk=site.pk).confirmation_requested_at  # claimed
        assert tasks.request_site_confirmations() == 0  # the next run has nothing to ask

    assert message["To"] == "bob@site.example.org"
    assert message["Content-Language"] == "fr"
    text = message.get_body(("plain",)).get_content()
    link = re.search(r"http://testserver(/fr/sites/confirm/\S+/)", text).group(1)
    assert client.get(link).status_code == 200
    assert client.post(link, {"status": "recruiting"}).status_code == 200
    site.refresh_from_db()
    assert site.coordinator_status == "recruiting" and site.status_confirmed_by == bob
    assert SiteConfirmation.objects.get().via == "email"
    assert len(sink.messages) == 1
