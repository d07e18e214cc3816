"""Shared by the patients tests: an inquiry made through the real service (create), the
emails it queued sent as a worker would (send_all), and the admin's list (login, listed)."""

import pytest
from django.core import mail

from notifications import emails
from notifications.models import EmailStatus, OutgoingEmail
from notifications.tasks import deliver_email
from patients import services
from patients.consent import CONSENT_TEXT, CONSENT_VERSION
from patients.models import Inquiry


def form_data(alice, **changes) -> dict:
    """What ContactForm.cleaned_data holds for alice."""
    data = {
        "first_name": alice["first_name"],
        "last_name": alice["last_name"],
        "email": alice["email"],
        "phone": "+33612345678",
        "preferred_language": alice["preferred_language"],
        "other_language": "",
        "message": alice["message"],
    }
    return {**data, **changes}


def create(site, alice, *, language="fr", prescreen=None, **changes) -> Inquiry:
    return services.inquiry_create(
        trial=site.trial,
        site=site,
        data=form_data(alice, **changes),
        language=language,
        consent_text=str(CONSENT_TEXT),
        consent_version=CONSENT_VERSION,
        prescreen=prescreen,
    )


@pytest.fixture
def send_all(monkeypatch):
    """Send every queued email as a worker would (the test's transaction never commits)."""
    monkeypatch.setattr(deliver_email, "delay", lambda email_id: None)

    def send():
        for email_id in OutgoingEmail.objects.filter(status=EmailStatus.QUEUED).values_list(
            "id", flat=True
        ):
            emails.deliver(email_id)
        return mail.outbox

    return send


def login(client, user):
    client.force_login(user)
    return client


def listed(response) -> set[int]:
    return {obj.pk for obj in response.context["cl"].result_list}


@pytest.fixture(autouse=True)
def _every_test_with_fresh_rate_limits(fresh_rate_limits):
    pass


@pytest.fixture
def a_inquiry(site_a, alice):
    """An inquiry of alice to site A (bob's)."""
    return create(site_a, alice)


@pytest.fixture
def b_inquiry(site_b, alice):
    """An inquiry to site B (charlie's), by another patient."""
    return create(
        site_b, alice, first_name="Beatrice", last_name="Rossi", email="beatrice@example.org"
    )
